"""Making a message: its text, its recipients, and one delivery per recipient and channel.

:func:`notify` renders the template, resolves the recipients (:mod:`.recipients`) and writes
the message with its deliveries, in the caller's transaction when one is given, so a message
exists exactly when the change it reports was committed (an outbox). Every person gets an
in-app delivery (in their inbox at once); a person with an e-mail address gets an e-mail
delivery; each webhook of ``conf/platform.yaml`` whose organisation's subtree holds a
recipient gets one delivery. E-mail and webhook deliveries start ``pending``, due now, each
with its own idempotency key, which the receiver sees (``Message-ID``, ``Idempotency-Key``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from govlake.platform_db.schema import notify_contact, notify_delivery, notify_message
from govlake.runtime import Runtime
from services.identity.organisations import OrgTree
from services.identity.settings import Clock, utc_now
from services.notifications.recipients import Person, resolve
from services.notifications.templates import render

EMAIL, WEBHOOK, INBOX = "email", "webhook", "inbox"
CHANNELS = (EMAIL, WEBHOOK, INBOX)


@dataclass(frozen=True)
class Notice:
    """What to tell whom: a template, the object it is about, recipient specs, the context."""

    template: str
    object: str
    recipients: Sequence[str]
    context: Mapping[str, Any] = field(default_factory=dict)


def notify(
    rt: Runtime,
    notice: Notice,
    *,
    by: str,
    conn: sa.Connection | None = None,
    clock: Clock = utc_now,
) -> int:
    """Write the message of ``notice`` and its deliveries; the message's id.

    With ``conn``, inside that transaction (recipients are resolved before, on their own
    connection); without, in a transaction of its own.
    """
    text = render(notice.template, notice.context)
    people = resolve(rt, notice.recipients)
    now = clock()
    message = {
        "event": notice.template, "object": notice.object[:255], "subject": text.subject,
        "body": text.body, "recipients": list(notice.recipients), "created_by": by[:128],
        "created_at": now,
    }  # fmt: skip
    if conn is not None:
        return _write(rt, conn, message, people, now)
    with rt.platform_db.begin() as own:
        return _write(rt, own, message, people, now)


def delivery_row(
    message: int, recipient: str, channel: str, address: str, now: datetime, **more: Any
) -> dict[str, Any]:
    """The values of a new delivery: pending and due now (an inbox one is there already)."""
    inbox = channel == INBOX
    return {
        "message": message, "recipient": recipient, "channel": channel, "address": address,
        "status": "sent" if inbox else "pending", "attempts": 0,
        "next_attempt_at": None if inbox else now, "sent_at": now if inbox else None,
        "idempotency_key": uuid.uuid4().hex, "created_at": now, **more,
    }  # fmt: skip


def _write(
    rt: Runtime, conn: sa.Connection, message: dict[str, Any], people: list[Person], now: datetime
) -> int:
    inserted = notify_message.insert().values(message).returning(notify_message.c.id)
    number = int(conn.execute(inserted).scalar_one())
    emails = _addresses(conn, [p.id for p in people], EMAIL)
    rows = [delivery_row(number, p.username, INBOX, p.username, now) for p in people]
    rows += [delivery_row(number, p.username, EMAIL, emails[p.id], now)
             for p in people if p.id in emails]  # fmt: skip
    tree = OrgTree.of(rt.config)
    for hook in rt.config.platform.notifications.webhooks:
        if any(tree.within(p.organisation, hook.organisation) for p in people):
            rows.append(delivery_row(number, f"webhook:{hook.name}", WEBHOOK, hook.name, now))
    if rows:
        conn.execute(notify_delivery.insert(), rows)
    return number


def _addresses(conn: sa.Connection, user_ids: list[int], channel: str) -> dict[int, str]:
    query = sa.select(notify_contact.c.user_id, notify_contact.c.address).where(
        notify_contact.c.user_id.in_(user_ids), notify_contact.c.channel == channel
    )
    return {row.user_id: row.address for row in conn.execute(query)}


def told(conn: sa.Connection, template: str, object: str) -> bool:
    """Whether a message of ``template`` about ``object`` was made already (to tell once)."""
    found = sa.select(notify_message.c.id).where(
        notify_message.c.event == template, notify_message.c.object == object
    )
    return conn.scalar(found.limit(1)) is not None
