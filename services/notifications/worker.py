"""The worker: takes back stale claims, then claims, sends and settles what is due, until none is.

A run needs ``send_messages`` on the platform department and leaves one audit row
(``notify.work``) with what it did. Batches are small enough to finish within the lease even
when every send waits for its timeout, so a live worker's claims are never taken back. A
delivery whose row is no longer the worker's when it settles (its lease ran out and another
worker took it) is counted as ``overtaken``: it may have gone out twice, with one
idempotency key.
"""

from __future__ import annotations

import os
import socket
from collections import Counter
from collections.abc import Collection
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa

from govlake.config.notifications import PlatformNotifications
from govlake.connections import endpoint
from govlake.errors import GovlakeError
from govlake.platform_db.schema import notify_message, user
from govlake.runtime import Runtime
from services.identity import trail
from services.identity.policy import acting, require
from services.identity.settings import Clock, as_utc, utc_now
from services.notifications import claims
from services.notifications.channels import Channel, Outgoing, SendFailed
from services.notifications.channels.email import EmailChannel
from services.notifications.channels.webhook import WebhookChannel
from services.notifications.claims import Attempt, Claimed
from services.notifications.outbox import EMAIL, WEBHOOK


@dataclass
class WorkReport:
    """What one run did, in deliveries."""

    recovered: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    def as_details(self) -> dict[str, int]:
        """The counts, for the audit row and the command's output."""
        return {"recovered": self.recovered, **dict(sorted(self.outcomes.items()))}


def worker_name() -> str:
    """This process's name as a worker: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def batch_size(settings: PlatformNotifications) -> int:
    """Deliveries per claim: every send of a batch may wait its timeout within half the lease."""
    return max(1, min(100, int(settings.lease_seconds / (2 * settings.timeout_seconds))))


def work(
    rt: Runtime, *, limit: int | None = None, worker: str | None = None, clock: Clock = utc_now
) -> WorkReport:
    """Send what is due until nothing is (or ``limit`` deliveries were claimed), as allowed."""
    actor = acting(rt)
    with trail.audited(rt, "notify.work", "notifications", actor) as noted:
        require(rt, actor, "send_messages", f"organisation:{rt.config.catalog.platform_department}")
        report = run(rt, limit=limit, worker=worker or worker_name(), clock=clock)
        noted.update(report.as_details())
    return report


def run(
    rt: Runtime,
    *,
    limit: int | None,
    worker: str,
    clock: Clock,
    only: Collection[int] | None = None,
) -> WorkReport:
    """The worker's loop (of the deliveries ``only``), unguarded: :func:`work` is the door."""
    settings = rt.config.platform.notifications
    db = rt.platform_db
    report = WorkReport(claims.recover(db, now=clock(), retry=settings.retry))
    lease = timedelta(seconds=settings.lease_seconds)
    left = limit
    with ExitStack() as closing:
        channels = _Channels(rt, closing)
        while left is None or left > 0:
            size = batch_size(settings) if left is None else min(left, batch_size(settings))
            batch = claims.claim(db, worker, now=clock(), lease=lease, limit=size, only=only)
            if not batch:
                break
            report.outcomes.update(_send(rt, channels, batch, worker, clock))
            left = None if left is None else left - len(batch)
    return report


@dataclass
class _Channels:
    """The channels of one run, each opened on first use and kept open across its batches."""

    rt: Runtime
    closing: ExitStack
    opened: dict[str, Channel | SendFailed] = field(default_factory=dict)

    def get(self, claimed: Claimed) -> Channel | SendFailed:
        """The open channel of ``claimed``'s delivery, or why it could not be opened."""
        key = EMAIL if claimed.channel == EMAIL else f"{claimed.channel}:{claimed.address}"
        if key not in self.opened:
            channel = self.opened[key] = _open(self.rt, claimed)
            if not isinstance(channel, SendFailed):
                self.closing.callback(channel.close)
        return self.opened[key]


def _send(
    rt: Runtime, channels: _Channels, batch: list[Claimed], worker: str, clock: Clock
) -> list[str]:
    """Send a batch, each delivery through its channel, then settle it in one transaction."""
    items = _outgoing(rt, batch)
    attempts = [_attempt(channels.get(c), c, items[c.id]) for c in batch]
    retry = rt.config.platform.notifications.retry
    return claims.settle(rt.platform_db, worker, attempts, now=clock(), retry=retry)


def _attempt(channel: Channel | SendFailed, claimed: Claimed, item: Outgoing) -> Attempt:
    try:
        if isinstance(channel, SendFailed):
            raise channel
        channel.send(item)
    except SendFailed as exc:
        return Attempt(claimed, str(exc)[:1000] or type(exc).__name__, exc.permanent)
    return Attempt(claimed)


def _open(rt: Runtime, claimed: Claimed) -> Channel | SendFailed:
    """The channel a delivery goes through, or why it cannot be opened."""
    settings = rt.config.platform.notifications
    try:
        if claimed.channel == EMAIL:
            return EmailChannel(endpoint(settings.email.conn_id), settings.timeout_seconds)
        if claimed.channel == WEBHOOK:
            hooks = {h.name: h for h in settings.webhooks}
            hook = hooks.get(claimed.address)
            if hook is None:
                return SendFailed(f"webhook {claimed.address!r} is no longer in conf/platform.yaml",
                                  permanent=True)  # fmt: skip
            return WebhookChannel(endpoint(hook.conn_id), hook.format, settings.timeout_seconds)
    except GovlakeError as exc:
        return SendFailed(str(exc))
    return SendFailed(f"channel {claimed.channel!r} has nothing to send", permanent=True)


def _outgoing(rt: Runtime, batch: list[Claimed]) -> dict[int, Outgoing]:
    """What each claimed delivery sends: its message's text, and the recipient's name."""
    with rt.platform_db.connect() as conn:
        messages = {
            r.id: r
            for r in conn.execute(
                sa.select(notify_message).where(notify_message.c.id.in_({c.message for c in batch}))
            )
        }
        named = sa.select(user.c.username, user.c.display_name).where(
            user.c.username.in_({c.recipient for c in batch})
        )
        names = {r.username: r.display_name for r in conn.execute(named)}
    return {
        c.id: Outgoing(
            key=c.idempotency_key,
            event=messages[c.message].event,
            object=messages[c.message].object,
            subject=messages[c.message].subject,
            body=messages[c.message].body,
            created_at=as_utc(messages[c.message].created_at),
            recipient=c.recipient,
            name=names.get(c.recipient, c.recipient),
            address=c.address,
        )  # fmt: skip
        for c in batch
    }
