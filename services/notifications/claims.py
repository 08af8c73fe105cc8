"""Claiming due deliveries so that no two workers send one, and settling what each attempt did.

A delivery is due when it is ``pending`` or ``failed`` and its next attempt time has come. A
worker claims due deliveries by moving them to ``sending`` with its name, one more attempt and
a lease: on PostgreSQL the due rows are selected ``FOR UPDATE SKIP LOCKED`` and updated in that
transaction, so concurrent workers take disjoint rows without waiting; on SQLite, which has
one writer at a time, the claim runs under ``BEGIN IMMEDIATE`` and each row's update repeats
the due condition (``WHERE id = ? AND status IN ('pending', 'failed')``), so a row another
worker took first is skipped. Settling an attempt updates the row only if it is still this
worker's ``sending`` row; a batch is settled in one transaction once it is sent, so a worker
that dies mid-batch sends at most that batch again. A delivery left ``sending`` past its lease
(the worker died mid-send) is taken back: due again, or dead once its attempts are spent.
Delivery is at least once: a receiver drops repeats by the idempotency key.
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


@dataclass(frozen=True)
class Attempt:
    """What sending a claimed delivery did: delivered (no ``error``), or why not."""

    claimed: Claimed
    error: str | None = None
    permanent: bool = False


def settle(
    db: sa.Engine, worker: str, attempts: list[Attempt], *, now: datetime, retry: Retry
) -> list[str]:
    """Record a batch's attempts in one transaction; each one's new status.

    ``sent``, ``failed`` (with its next attempt) or ``dead``; ``overtaken`` when the row is no
    longer this worker's (its lease ran out and it was taken back).
    """
    with db.begin() as conn:
        return [_settle(conn, worker, attempt, now, retry) for attempt in attempts]


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


def _settle(conn: sa.Connection, worker: str, attempt: Attempt, now: datetime, retry: Retry) -> str:
    claimed = attempt.claimed
    values: dict[str, object]
    if attempt.error is None:
        status, values = "sent", {"sent_at": now, "last_error": None}
    elif attempt.permanent or claimed.attempts >= retry.attempts:
        status, values = "dead", {"next_attempt_at": None, "last_error": attempt.error}
    else:
        status = "failed"
        values = {"next_attempt_at": now + backoff(claimed.attempts, retry),
                  "last_error": attempt.error}  # fmt: skip
    done = conn.execute(
        notify_delivery.update()
        .where(t.id == claimed.id, t.status == "sending", t.worker == worker)
        .values(status=status, lease_until=None, **values)
    )
    return status if done.rowcount == 1 else "overtaken"
