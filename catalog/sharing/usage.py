"""How much each grant is used: its quota, and an alert when a caller reads far more than usual.

Every call of a share mode counts in its minute (per grant and principal): a grant with
``per_minute`` refuses the calls of a minute past that many, whoever makes them. The rows
returned are added to the minute they are returned in (the call's, or the next one for a
read across a minute's end); when a principal's rows in one minute exceed
:data:`FACTOR` times its usual rows per active minute over the last :data:`HISTORY` (and at
least :data:`FLOOR` rows), one ``sharing.anomaly`` audit row is written for that minute: the
standard's 调用异常监测, for the auditors and the message service to act on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from catalog.sharing.grants import ShareGrant
from govlake.errors import GovlakeError
from govlake.platform_db.schema import share_call
from govlake.principal import Principal
from govlake.runtime import Runtime
from services.identity import trail

FACTOR = 10
FLOOR = 10_000
HISTORY = timedelta(days=7)


class QuotaExceeded(GovlakeError):
    """The grant's calls for this minute are used up; ``retry_after`` seconds until the next."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def count_call(rt: Runtime, grant: ShareGrant, caller: Principal, now: datetime) -> None:
    """One more call of ``caller`` this minute; :class:`QuotaExceeded` past the grant's quota."""
    minute = _minute(now)
    with rt.platform_db.begin() as conn:
        insert = _dialect_insert(conn)(share_call).values(
            grant_id=grant.id, principal=caller.username, minute=minute, calls=1, rows=0,
            alerted=False,
        )  # fmt: skip
        conn.execute(insert.on_conflict_do_update(
            index_elements=["grant_id", "principal", "minute"],
            set_={"calls": share_call.c.calls + 1},
        ))  # fmt: skip
        calls = conn.scalar(
            sa.select(sa.func.sum(share_call.c.calls)).where(
                share_call.c.grant_id == grant.id, share_call.c.minute == minute
            )
        )
    limit = grant.terms.per_minute
    if limit is not None and int(calls or 0) > limit:
        wait = int((minute + timedelta(minutes=1) - now).total_seconds()) + 1
        raise QuotaExceeded(f"grant {grant.id} allows {limit} calls a minute: retry later", wait)


def add_rows(rt: Runtime, grant: ShareGrant, caller: Principal, now: datetime, rows: int) -> None:
    """Add ``rows`` to the caller's minute; alert once that minute when it is unusual."""
    minute = _minute(now)
    with rt.platform_db.begin() as conn:
        # The call may have been counted in the minute before (a read across a minute's end).
        insert = _dialect_insert(conn)(share_call).values(
            grant_id=grant.id, principal=caller.username, minute=minute, calls=0, rows=rows,
            alerted=False,
        )  # fmt: skip
        conn.execute(insert.on_conflict_do_update(
            index_elements=["grant_id", "principal", "minute"],
            set_={"rows": share_call.c.rows + rows},
        ))  # fmt: skip
        current, alerted = conn.execute(
            sa.select(share_call.c.rows, share_call.c.alerted).where(
                *_bucket(grant, caller, minute)
            )
        ).one()
        usual = _usual(conn, grant, caller, minute)
        if alerted or current <= max(FLOOR, FACTOR * usual):
            return
        conn.execute(
            share_call.update().where(*_bucket(grant, caller, minute)).values(alerted=True)
        )
    details = {"grant": grant.id, "application": grant.application, "rows_this_minute": current,
               "usual_rows_per_minute": round(usual, 1), "factor": FACTOR}  # fmt: skip
    trail.write(rt, caller, "sharing.anomaly", f"catalog:{grant.resource}", "success", details)


def _usual(conn: sa.Connection, grant: ShareGrant, caller: Principal, minute: datetime) -> float:
    """The caller's mean rows per active minute on this grant over the history, this one out."""
    mean = conn.scalar(
        sa.select(sa.func.avg(share_call.c.rows)).where(
            share_call.c.grant_id == grant.id,
            share_call.c.principal == caller.username,
            share_call.c.minute >= minute - HISTORY,
            share_call.c.minute < minute,
        )
    )
    return float(mean or 0)


def _bucket(
    grant: ShareGrant, caller: Principal, minute: datetime
) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        share_call.c.grant_id == grant.id,
        share_call.c.principal == caller.username,
        share_call.c.minute == minute,
    )


def _dialect_insert(conn: sa.Connection) -> Callable[..., Any]:
    """The INSERT with ``ON CONFLICT`` of the platform DB's dialect (SQLite or PostgreSQL)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _minute(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)
