"""Delay alerts: each stage of an overdue object's alert is raised once, as a message.

An overdue object is a pipeline or subscription run not done by its deadline (``pipeline_run``,
``subscription_run``: one stage, ``late``), or an application step waiting past its handling
time (``application_step``: ``warning`` to whoever may take it, then ``escalation`` to its
organisation's administrators), or a table version past its dataset's freshness
(``dataset_freshness``: ``stale``, :mod:`services.notifications.stale_data`). :func:`raise_once`
writes the alert row and its message in one transaction under a unique key (kind, object,
stage), so however many checks see the same delay (Airflow's deadline callback, the end of the
run, a check run twice), one alert and one message exist. :func:`listed` is the list ``govlake
alerts list`` shows (docs/adr/0020-delay-alerts.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from govlake.platform_db.schema import notify_alert, notify_delivery
from govlake.runtime import Runtime
from services.identity import trail
from services.identity.policy import acting, require
from services.identity.settings import Clock, as_utc, utc_now
from services.notifications.outbox import INBOX, Notice, notify

KINDS = ("pipeline_run", "subscription_run", "application_step", "dataset_freshness")
STAGES = ("late", "warning", "escalation", "stale")
a = notify_alert.c


@dataclass(frozen=True)
class Alert:
    """One raised stage of an overdue object's alert."""

    kind: str
    object: str
    stage: str
    deadline: datetime
    raised_at: datetime
    recipients: list[str]
    message: int
    resolved_at: datetime | None
    told: list[str]


def raise_once(
    rt: Runtime,
    *,
    kind: str,
    stage: str,
    deadline: datetime,
    notice: Notice,
    by: str,
    clock: Clock = utc_now,
) -> bool:
    """Raise ``stage`` of ``notice.object``'s alert with its message; ``False`` if raised already.

    The message's recipients are those of ``notice``; a raise racing another for the same key
    loses on the unique key and its message is rolled back with it.
    """
    key = f"{kind}|{notice.object}|{stage}"[:255]
    now = clock()
    try:
        with rt.platform_db.begin() as conn:
            if conn.scalar(sa.select(a.id).where(a.key == key)) is not None:
                return False
            message = notify(rt, notice, by=by, conn=conn, clock=lambda: now)
            conn.execute(
                notify_alert.insert().values(
                    key=key, kind=kind, object=notice.object[:255], stage=stage,
                    deadline=deadline, raised_at=now, recipients=list(notice.recipients),
                    message=message,
                )
            )  # fmt: skip
    except sa.exc.IntegrityError:
        return False
    return True


def resolve(conn: sa.Connection, object: str, at: datetime) -> None:
    """Mark every open alert of ``object`` resolved at ``at`` (the run ended, the step moved)."""
    conn.execute(
        notify_alert.update()
        .where(a.object == object, a.resolved_at.is_(None))
        .values(resolved_at=at)
    )


def open_objects(conn: sa.Connection, kind: str) -> list[str]:
    """The objects of ``kind`` with an alert not resolved yet."""
    query = sa.select(a.object).where(a.kind == kind, a.resolved_at.is_(None)).distinct()
    return list(conn.scalars(query))


def listed(rt: Runtime, *, resolved: bool = False, kinds: Sequence[str] = KINDS) -> list[Alert]:
    """Raised alerts, oldest deadline first: open ones, and resolved ones with ``resolved``.

    Needs ``read_messages`` on the platform department, as the send log does; audited.
    """
    actor = acting(rt)
    with trail.audited(rt, "alerts.list", "alerts", actor, resolved=resolved) as noted:
        require(rt, actor, "read_messages", f"organisation:{rt.config.catalog.platform_department}")
        query = sa.select(notify_alert).where(a.kind.in_(kinds))
        if not resolved:
            query = query.where(a.resolved_at.is_(None))
        with rt.platform_db.connect() as conn:
            rows = conn.execute(query.order_by(a.deadline, a.id)).all()
            told = _told(conn, [r.message for r in rows])
        noted["rows"] = len(rows)
    return [
        Alert(r.kind, r.object, r.stage, as_utc(r.deadline), as_utc(r.raised_at),
              list(r.recipients), r.message, as_utc(r.resolved_at) if r.resolved_at else None,
              told.get(r.message, []))
        for r in rows
    ]  # fmt: skip


def _told(conn: sa.Connection, messages: list[int]) -> dict[int, list[str]]:
    """The people each message reached, by their inbox deliveries (everyone told has one)."""
    d = notify_delivery.c
    query = sa.select(d.message, d.recipient).where(d.message.in_(messages), d.channel == INBOX)
    told: dict[int, list[str]] = {}
    for row in conn.execute(query.order_by(d.recipient)):
        told.setdefault(row.message, []).append(row.recipient)
    return told
