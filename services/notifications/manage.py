"""The send log and its management: list deliveries, the ones waiting, resend one, test a channel.

Reading the log needs ``read_messages`` on the platform department and leaves one audit row
(``notify.log``); resending and testing need ``send_messages`` (``notify.resend``,
``notify.test``). A resend is a new delivery of the same message to the same recipient and
channel, with its own idempotency key and ``resend_of`` naming the original, which stays as it
was.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from govlake.errors import GovlakeError
from govlake.platform_db.schema import notify_delivery, notify_message
from govlake.principal import Principal
from govlake.runtime import Runtime
from services.identity import trail
from services.identity.policy import acting, require
from services.identity.settings import Clock, as_utc, utc_now
from services.notifications import worker
from services.notifications.contacts import email_of
from services.notifications.outbox import CHANNELS, EMAIL, INBOX, WEBHOOK, delivery_row
from services.notifications.templates import render

WAITING = ("pending", "sending", "failed")
RESENDABLE = ("sent", "dead")
t = notify_delivery.c


@dataclass(frozen=True)
class DeliveryView:
    """One delivery as the log shows it, with its message's event, object and subject."""

    id: int
    message: int
    event: str
    object: str
    subject: str
    recipient: str
    channel: str
    address: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    sent_at: datetime | None
    resend_of: int | None
    idempotency_key: str
    created_at: datetime


def log(
    rt: Runtime,
    *,
    status: Collection[str] | None = None,
    channel: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[DeliveryView]:
    """Deliveries, newest first, by status, channel and creation time, as allowed to read."""
    actor = acting(rt)
    filters = {"status": sorted(status) if status else None, "channel": channel,
               "since": since.isoformat() if since else None}  # fmt: skip
    with trail.audited(rt, "notify.log", "notifications", actor, **filters) as noted:
        _require(rt, actor, "read_messages")
        if channel is not None and channel not in CHANNELS:
            raise GovlakeError(f"--channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
        query = _joined()
        if status:
            query = query.where(t.status.in_(status))
        if channel:
            query = query.where(t.channel == channel)
        if since:
            query = query.where(t.created_at >= as_utc(since))  # a naive time is UTC
        with rt.platform_db.connect() as conn:
            found = [
                _view(r._mapping) for r in conn.execute(query.order_by(t.id.desc()).limit(limit))
            ]
        noted["rows"] = len(found)
    return found


def pending(rt: Runtime, *, limit: int = 100) -> list[DeliveryView]:
    """Deliveries not yet sent nor given up: pending, sending or failed (to be tried again)."""
    return log(rt, status=WAITING, limit=limit)


def resend(rt: Runtime, delivery: int, *, clock: Clock = utc_now) -> DeliveryView:
    """A new delivery of ``delivery``'s message to the same recipient and channel."""
    actor = acting(rt)
    with trail.audited(rt, "notify.resend", f"delivery:{delivery}", actor) as noted:
        _require(rt, actor, "send_messages")
        original = _one(rt, delivery)
        if original.status not in RESENDABLE:
            raise GovlakeError(
                f"delivery {delivery} is {original.status}: it is tried again by the worker; "
                f"only {' or '.join(RESENDABLE)} deliveries are resent"
            )
        row = delivery_row(original.message, original.recipient, original.channel,
                           original.address, clock(), resend_of=original.id)  # fmt: skip
        with rt.platform_db.begin() as conn:
            made = int(
                conn.execute(notify_delivery.insert().values(row).returning(t.id)).scalar_one()
            )
        noted["resend"] = made
    return _one(rt, made)


def try_channel(
    rt: Runtime, channel: str, *, to: str | None = None, clock: Clock = utc_now
) -> DeliveryView:
    """Send a test message now through ``channel`` (``email``, ``inbox``, ``webhook:<name>``).

    E-mail goes to ``to`` (default: the acting user's address), the inbox to the acting user.
    """
    actor = acting(rt)
    with trail.audited(rt, "notify.test", f"channel:{channel}", actor) as noted:
        _require(rt, actor, "send_messages")
        kind, _, name = channel.partition(":")
        hooks = {h.name for h in rt.config.platform.notifications.webhooks}
        if kind == WEBHOOK and name not in hooks:
            raise GovlakeError(f"no webhook {name!r} in conf/platform.yaml; declared: "
                               f"{', '.join(sorted(hooks)) or 'none'}")  # fmt: skip
        if kind not in (EMAIL, INBOX, WEBHOOK) or (kind == WEBHOOK) != bool(name):
            raise GovlakeError(f"channel must be email, inbox or webhook:<name>, not {channel!r}")
        address = {EMAIL: to or email_of(rt, actor.username), INBOX: actor.username,
                   WEBHOOK: name}[kind]  # fmt: skip
        if not address:
            raise GovlakeError(f"{actor.username} has no e-mail address: set one or pass --to")
        made = _test_delivery(rt, actor, kind, address, clock)
        if kind != INBOX:
            worker.run(rt, limit=1, worker=worker.worker_name(), clock=clock, only=[made])
        shown = _one(rt, made)
        noted.update(delivery=made, status=shown.status)
    return shown


def _test_delivery(rt: Runtime, actor: Principal, kind: str, address: str, clock: Clock) -> int:
    now = clock()
    text = render("notify.test", {"channel": kind, "actor": actor.username})
    with rt.platform_db.begin() as conn:
        message = int(conn.execute(notify_message.insert().values(
            event="notify.test", object=f"channel:{kind}", subject=text.subject, body=text.body,
            recipients=[f"user:{actor.username}"], created_by=actor.username, created_at=now,
        ).returning(notify_message.c.id)).scalar_one())  # fmt: skip
        recipient = f"webhook:{address}" if kind == WEBHOOK else actor.username
        row = delivery_row(message, recipient, kind, address, now)
        return int(conn.execute(notify_delivery.insert().values(row).returning(t.id)).scalar_one())


def _require(rt: Runtime, actor: Principal, verb: str) -> None:
    require(rt, actor, verb, f"organisation:{rt.config.catalog.platform_department}")


def _joined() -> sa.Select[tuple[object, ...]]:
    m = notify_message.c
    return sa.select(notify_delivery, m.event, m.object, m.subject).join(
        notify_message, m.id == t.message
    )


def _one(rt: Runtime, delivery: int) -> DeliveryView:
    with rt.platform_db.connect() as conn:
        row = conn.execute(_joined().where(t.id == delivery)).one_or_none()
    if row is None:
        raise GovlakeError(f"no delivery {delivery}")
    return _view(row._mapping)


def _view(row: sa.RowMapping) -> DeliveryView:
    def moment(value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)

    return DeliveryView(
        id=row["id"], message=row["message"], event=row["event"], object=row["object"],
        subject=row["subject"], recipient=row["recipient"], channel=row["channel"],
        address=row["address"], status=row["status"], attempts=row["attempts"],
        next_attempt_at=moment(row["next_attempt_at"]), last_error=row["last_error"],
        sent_at=moment(row["sent_at"]), resend_of=row["resend_of"],
        idempotency_key=row["idempotency_key"], created_at=as_utc(row["created_at"]),
    )  # fmt: skip
