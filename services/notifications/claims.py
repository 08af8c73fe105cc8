"""Claiming due deliveries so that no two workers send one, and settling what each attempt did.

A delivery is due when it is ``pending`` or ``failed`` and its next attempt time has come. A
worker claims due deliveries by moving them to ``sending`` with its name, one more attempt and
a lease: on PostgreSQL the due rows are selected ``FOR UPDATE SKIP LOCKED`` and updated in that
transaction, so concurrent workers take disjoint rows without waiting; on SQLite, which has
one writer at a time, the claim runs under ``BEGIN IMMEDIATE`` and each row's update repeats
the due condition (``WHERE id = ? AND status IN ('pending', 'failed')``), so a row another
worker took first is skipped. Settling an attempt updates the row only if it is still this
worker's ``sending`` row. A delivery left ``sending`` past its lease (the worker died
mid-send) is taken back: due again, or dead once its attempts are spent. Delivery is at least
once: a receiver drops repeats by the idempotency key.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from govlake.config.notifications import Retry
from govlake.platform_db.schema import notify_delivery

DUE = ("pending", "failed")
LOST = "the worker stopped during the attempt (lease expired)"
t = notify_delivery.c


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker is sending: which one, to whom, on which channel, which attempt."""

    id: int
    message: int
    recipient: str
    channel: str
    address: str
    attempts: int
    idempotency_key: str


def claim(
    db: sa.Engine,
    worker: str,
    *,
    now: datetime,
    lease: timedelta,
    limit: int,
    only: Collection[int] | None = None,
) -> list[Claimed]:
    """Up to ``limit`` due deliveries (of ``only``), oldest due first, now ``sending``."""
    due = sa.select(t.id).where(t.status.in_(DUE), t.next_attempt_at <= now)
    if only is not None:
        due = due.where(t.id.in_(only))
    due = due.order_by(t.next_attempt_at, t.id).limit(limit)
    taken = {"status": "sending", "worker": worker, "lease_until": now + lease,
             "attempts": t.attempts + 1}  # fmt: skip
    with db.begin() as conn:
        if db.dialect.name == "postgresql":
            ids = list(conn.scalars(due.with_for_update(skip_locked=True)))
            if ids:
                conn.execute(notify_delivery.update().where(t.id.in_(ids)).values(taken))
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            ids = [
                found
                for found in conn.scalars(due)
                if conn.execute(
                    notify_delivery.update()
                    .where(t.id == found, t.status.in_(DUE), t.next_attempt_at <= now)
                    .values(taken)
                ).rowcount
                == 1
            ]
        rows = conn.execute(sa.select(notify_delivery).where(t.id.in_(ids)).order_by(t.id))
        return [
            Claimed(r.id, r.message, r.recipient, r.channel, r.address, r.attempts,
                    r.idempotency_key)
            for r in rows
        ]  # fmt: skip


def sent(db: sa.Engine, claimed: Claimed, worker: str, *, now: datetime) -> bool:
    """Record the attempt as delivered; ``False`` when the row is no longer this worker's."""
    return _settle(db, claimed, worker, status="sent", sent_at=now, last_error=None)


def failed(
    db: sa.Engine,
    claimed: Claimed,
    worker: str,
    error: str,
    *,
    now: datetime,
    retry: Retry,
    permanent: bool = False,
) -> str:
    """Record a failed attempt: ``failed`` with its next attempt, or ``dead``; the status."""
    if permanent or claimed.attempts >= retry.attempts:
        _settle(db, claimed, worker, status="dead", next_attempt_at=None, last_error=error)
        return "dead"
    wait = backoff(claimed.attempts, retry)
    _settle(db, claimed, worker, status="failed", next_attempt_at=now + wait, last_error=error)
    return "failed"


def backoff(attempts: int, retry: Retry) -> timedelta:
    """How long to wait after the ``attempts``-th failure: doubling, up to the maximum."""
    return timedelta(seconds=min(retry.first_seconds * 2 ** (attempts - 1), retry.max_seconds))


def recover(db: sa.Engine, *, now: datetime, retry: Retry) -> int:
    """Take back every delivery whose lease has run out; how many."""
    stale = (t.status == "sending", t.lease_until < now)
    released = {"lease_until": None, "worker": None, "last_error": LOST}
    with db.begin() as conn:
        dead = conn.execute(
            notify_delivery.update()
            .where(*stale, t.attempts >= retry.attempts)
            .values(status="dead", next_attempt_at=None, **released)
        ).rowcount
        again = conn.execute(
            notify_delivery.update()
            .where(*stale)
            .values(status="failed", next_attempt_at=now, **released)
        ).rowcount
    return int(dead + again)


def _settle(db: sa.Engine, claimed: Claimed, worker: str, **values: object) -> bool:
    with db.begin() as conn:
        done = conn.execute(
            notify_delivery.update()
            .where(t.id == claimed.id, t.status == "sending", t.worker == worker)
            .values(lease_until=None, **values)
        )
    return done.rowcount == 1
