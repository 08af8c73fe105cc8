"""Append one event to the ledger: serialised, sealed, never updated or deleted.

Appends are serialised so that concurrent writers extend one chain: the insert's transaction
first takes the ledger's lock (a transaction-level advisory lock on PostgreSQL, ``BEGIN
IMMEDIATE`` on SQLite), then reads the head, takes ``at`` from the database clock, seals the row
and inserts it with the next id. Ids are contiguous from 1: an append that rolls back leaves no
gap, so a gap is always a deletion. Nothing here updates or deletes a row. A NUL in a field (a
hostile request's path, a claimed user name) is recorded as ``␀`` (U+2400, the character that
shows one): a PostgreSQL text cannot hold NUL, and the ledger records every event, on either
database alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any, get_args, overload

import sqlalchemy as sa

from govlake.errors import GovlakeError
from govlake.platform_db.schema import audit_event
from govlake.runtime import Runtime
from services.audit.chain import GENESIS, canonical, seal
from services.audit.keys import chain_key
from services.audit.records import AuditEvent, Outcome, utc

SHOWN_NUL = "\u2400"
# "govlake" in ASCII: the key of the PostgreSQL advisory lock that serialises appends.
LOCK_KEY = 0x676F766C616B65
LOCK = {"postgresql": f"SELECT pg_advisory_xact_lock({LOCK_KEY})", "sqlite": "BEGIN IMMEDIATE"}
# The database's clock, with microseconds on PostgreSQL and milliseconds on SQLite.
CLOCK = {
    "postgresql": "SELECT clock_timestamp()",
    "sqlite": "SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
}


def record(
    rt: Runtime,
    *,
    principal: str,
    action: str,
    object: str,
    outcome: Outcome,
    organisation: str | None = None,
    client: str | None = None,
    request_id: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append the event and return it as stored: with its id, database time and hash.

    Raises:
        GovlakeError: no audit key, an outcome other than success, refused or failed, an empty
            or too long field, or details that are not a JSON object.
    """
    key = chain_key()
    principal, organisation, object = _shown(principal), _shown(organisation), _shown(object)
    client, request_id = _shown(client), _shown(request_id)
    given = {
        "principal": principal,
        "organisation": organisation,
        "action": action,
        "object": object,
        "outcome": outcome,
        "client": client,
        "request_id": request_id,
    }
    _check(given)
    stored_details = _json_object(details or {})
    engine = rt.platform_db
    dialect = engine.dialect.name
    if dialect not in LOCK:
        raise GovlakeError(f"the platform database must be SQLite or PostgreSQL, not {dialect}")
    with engine.begin() as db:
        db.exec_driver_sql(LOCK[dialect])
        head = db.execute(
            sa.select(audit_event.c.id, audit_event.c.hash)
            .order_by(audit_event.c.id.desc())
            .limit(1)
        ).first()
        unsealed = AuditEvent(
            id=head.id + 1 if head else 1,
            at=_as_datetime(db.exec_driver_sql(CLOCK[dialect]).scalar_one()),
            principal=principal,
            organisation=organisation,
            action=action,
            object=object,
            outcome=outcome,
            client=client,
            request_id=request_id,
            details=stored_details,
            prev_hash=head.hash if head else GENESIS,
            hash="",
        )
        event = replace(unsealed, hash=seal(key, unsealed.prev_hash, unsealed.sealed_fields()))
        db.execute(audit_event.insert().values(**asdict(event)))
    return event


@overload
def _shown(text: str) -> str: ...
@overload
def _shown(text: None) -> None: ...
def _shown(text: str | None) -> str | None:
    """``text`` with each NUL shown as ``␀``."""
    return text.replace("\x00", SHOWN_NUL) if text is not None else text


def _check(given: Mapping[str, str | None]) -> None:
    """Refuse an unknown outcome, a missing required field, or a value longer than its column."""
    if given["outcome"] not in get_args(Outcome):
        raise GovlakeError(
            f"audit outcome must be one of {', '.join(get_args(Outcome))}, not {given['outcome']!r}"
        )
    for name, value in given.items():
        column = audit_event.c[name]
        if not value and not column.nullable:
            raise GovlakeError(f"audit event needs a {name}")
        length = getattr(column.type, "length", None)
        if value and length and len(value) > length:
            raise GovlakeError(f"audit {name} is longer than {length} characters: {value[:40]}...")


def _json_object(details: Mapping[str, Any]) -> dict[str, Any]:
    """``details`` as the JSON object the database will give back, so the seal holds on reading."""
    try:
        return dict(json.loads(canonical(dict(details))))
    except (TypeError, ValueError) as exc:
        raise GovlakeError(f"audit details are not a JSON object: {exc}") from None


def _as_datetime(clock: datetime | str) -> datetime:
    """The clock's reading in UTC: PostgreSQL gives a datetime, SQLite ISO 8601 text."""
    return utc(clock if isinstance(clock, datetime) else datetime.fromisoformat(clock))
