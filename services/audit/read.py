"""Read the ledger: filtered events newest first, or every row in chain order, streaming.

Reading shows what is stored; whether it is intact is what ``verify`` says. A value that the
appender cannot have written (text that is not a time, details that are not a JSON object) is
read as raw text here and refused by :func:`decode` with the row's id, never by the driver.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from govlake.errors import GovlakeError
from govlake.platform_db.schema import audit_event
from govlake.runtime import Runtime
from services.audit.records import AuditEvent, Outcome, utc

BATCH = 5000
COLUMNS = [
    *(c for c in audit_event.c if c.name not in {"at", "details"}),
    sa.type_coerce(audit_event.c.at, sa.Text).label("at"),
    sa.type_coerce(audit_event.c.details, sa.Text).label("details"),
]


def decode(row: sa.Row[Any]) -> AuditEvent:
    """The event a row holds; ``ValueError`` for a time or details the appender cannot write."""
    at = row.at if isinstance(row.at, datetime) else datetime.fromisoformat(row.at)
    details = json.loads(row.details) if isinstance(row.details, str) else row.details
    if not isinstance(details, dict):
        raise ValueError(f"details are not a JSON object: {str(row.details)[:40]}")
    return AuditEvent(
        id=row.id,
        at=utc(at),
        principal=row.principal,
        organisation=row.organisation,
        action=row.action,
        object=row.object,
        outcome=cast(Outcome, row.outcome),
        client=row.client,
        request_id=row.request_id,
        details=details,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def in_chain_order(engine: sa.Engine, batch: int = BATCH) -> Iterator[sa.Row[Any]]:
    """Every row by ascending id, ``batch`` rows per query: bounded memory, no long read lock."""
    after: int | None = None
    while True:
        query = sa.select(*COLUMNS).order_by(audit_event.c.id).limit(batch)
        if after is not None:
            query = query.where(audit_event.c.id > after)
        with engine.connect() as db:
            rows = db.execute(query).all()
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1].id


def events(
    rt: Runtime,
    *,
    user: str | None = None,
    action: str | None = None,
    object: str | None = None,
    since: datetime | None = None,
    outcome: Outcome | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """The latest ``limit`` events matching every filter given, newest first.

    ``user`` is the principal; ``since`` is inclusive (a naive time is taken as UTC).

    Raises:
        GovlakeError: a row that cannot be read (altered outside the platform).
    """
    query = sa.select(*COLUMNS).order_by(audit_event.c.id.desc()).limit(limit)
    for column, value in (
        (audit_event.c.principal, user),
        (audit_event.c.action, action),
        (audit_event.c.object, object),
        (audit_event.c.outcome, outcome),
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(audit_event.c.at >= utc(since))
    with rt.platform_db.connect() as db:
        rows = db.execute(query).all()
    found = []
    for row in rows:
        try:
            found.append(decode(row))
        except ValueError as exc:
            raise GovlakeError(
                f"audit row {row.id} cannot be read ({exc}): run govlake audit verify"
            ) from None
    return found
