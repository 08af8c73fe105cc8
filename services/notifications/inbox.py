"""The in-app inbox: a person's in-app deliveries, unread until they read them.

Only the person a message was sent to sees it in their inbox and marks it read; listing and
marking are audit rows (``notify.inbox``, ``notify.read``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from govlake.errors import GovlakeError
from govlake.platform_db.schema import notify_delivery, notify_message
from govlake.runtime import Runtime
from services.identity import trail
from services.identity.policy import acting
from services.identity.settings import Clock, as_utc, utc_now
from services.notifications.outbox import INBOX

t, m = notify_delivery.c, notify_message.c


@dataclass(frozen=True)
class InboxItem:
    """One message in a person's inbox."""

    id: int
    event: str
    object: str
    subject: str
    body: str
    at: datetime
    read_at: datetime | None


def inbox(rt: Runtime, *, unread: bool = False, limit: int = 100) -> list[InboxItem]:
    """The acting person's in-app messages, newest first (only the unread ones)."""
    actor = acting(rt)
    with trail.audited(rt, "notify.inbox", f"user:{actor.username}", actor,
                       unread=unread) as noted:  # fmt: skip
        query = (
            sa.select(t.id, m.event, m.object, m.subject, m.body, t.created_at, t.read_at)
            .join(notify_message, m.id == t.message)
            .where(t.channel == INBOX, t.recipient == actor.username)
        )
        if unread:
            query = query.where(t.read_at.is_(None))
        with rt.platform_db.connect() as conn:
            rows = conn.execute(query.order_by(t.id.desc()).limit(limit)).all()
        noted["rows"] = len(rows)
    return [
        InboxItem(r.id, r.event, r.object, r.subject, r.body, as_utc(r.created_at),
                  None if r.read_at is None else as_utc(r.read_at))
        for r in rows
    ]  # fmt: skip


def mark_read(rt: Runtime, delivery: int, *, clock: Clock = utc_now) -> None:
    """Mark the acting person's in-app message ``delivery`` read (once)."""
    actor = acting(rt)
    with trail.audited(rt, "notify.read", f"delivery:{delivery}", actor):
        mine = (t.id == delivery, t.channel == INBOX, t.recipient == actor.username)
        with rt.platform_db.begin() as conn:
            found = conn.execute(sa.select(t.read_at).where(*mine)).one_or_none()
            if found is None:
                raise GovlakeError(f"no message {delivery} in the inbox of {actor.username}")
            if found.read_at is None:
                conn.execute(notify_delivery.update().where(*mine).values(read_at=clock()))
