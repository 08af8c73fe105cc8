"""``govlake notify``: the message service's worker, send log, resends, channel tests, inbox.

``work``, ``resend`` and ``test`` need ``send_messages`` on the platform department, ``log``
and ``pending`` need ``read_messages``; ``inbox`` and ``read`` are the logged-in person's own
messages; ``contact`` sets where someone receives e-mail (themselves, or an administrator of
their organisation). Each is audited.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from apps.cli.common import ConfOption, out, reports_errors, signed_in
from govlake.errors import GovlakeError

if TYPE_CHECKING:
    from services.notifications.manage import DeliveryView

notify_app = typer.Typer(
    help="Messages: run the worker, read the send log, resend, test a channel, read your inbox.",
    no_args_is_help=True,
)
STATUSES = ("pending", "sending", "sent", "failed", "dead")


@notify_app.command("work")
@reports_errors
def notify_work(
    limit: Annotated[
        int | None, typer.Option(help="Stop after claiming this many deliveries.")
    ] = None,
    conf: ConfOption = None,
) -> None:
    """Send every delivery that is due, retrying failures later, until none is due."""
    from services.notifications.worker import work

    report = work(signed_in(conf), limit=limit)
    counts = ", ".join(f"{n} {what}" for what, n in report.as_details().items())
    out.print(f"deliveries: {counts}")


@notify_app.command("log")
@reports_errors
def notify_log(
    status: Annotated[
        list[str] | None, typer.Option("--status", help=f"One of {', '.join(STATUSES)}.")
    ] = None,
    channel: Annotated[str | None, typer.Option(help="email, webhook or inbox")] = None,
    since: Annotated[
        str | None, typer.Option(help="YYYY-MM-DD or an ISO time (UTC unless it has an offset).")
    ] = None,
    limit: Annotated[int, typer.Option(help="Deliveries shown, newest first.")] = 50,
    conf: ConfOption = None,
) -> None:
    """The send log: deliveries newest first, with status, attempts and the last error."""
    from services.notifications.manage import log

    for one in status or []:
        if one not in STATUSES:
            raise GovlakeError(f"--status must be one of {', '.join(STATUSES)}, not {one!r}")
    found = log(signed_in(conf), status=status, channel=channel, since=_since(since),
                limit=limit)  # fmt: skip
    _show(found, "send log")


@notify_app.command("pending")
@reports_errors
def notify_pending(
    limit: Annotated[int, typer.Option(help="Deliveries shown, newest first.")] = 50,
    conf: ConfOption = None,
) -> None:
    """Deliveries not yet sent nor given up: pending, sending, or failed and to be retried."""
    from services.notifications.manage import pending

    _show(pending(signed_in(conf), limit=limit), "waiting")


@notify_app.command("resend")
@reports_errors
def notify_resend(
    delivery: Annotated[int, typer.Argument(help="The delivery's id (govlake notify log).")],
    conf: ConfOption = None,
) -> None:
    """Send a delivery's message again, as a new delivery linked to it (the worker sends it)."""
    from services.notifications.manage import resend

    made = resend(signed_in(conf), delivery)
    out.print(f"delivery {made.id}: {made.status}, resend of {delivery} to {made.recipient} "
              f"by {made.channel}")  # fmt: skip


@notify_app.command("test")
@reports_errors
def notify_test(
    channel: Annotated[str, typer.Argument(help="email, inbox or webhook:<name>")],
    to: Annotated[
        str | None, typer.Option("--to", help="E-mail address (default: your own).")
    ] = None,
    conf: ConfOption = None,
) -> None:
    """Send a test message now through a channel; exit 1 unless it was delivered."""
    from services.notifications.manage import try_channel

    made = try_channel(signed_in(conf), channel, to=to)
    out.print(f"delivery {made.id} to {made.address}: {made.status}", highlight=False)
    if made.status != "sent":
        raise GovlakeError(f"test message not delivered: {made.last_error}")


@notify_app.command("inbox")
@reports_errors
def notify_inbox(
    unread: Annotated[bool, typer.Option("--unread", help="Only the unread ones.")] = False,
    conf: ConfOption = None,
) -> None:
    """Your in-app messages, newest first."""
    from services.notifications.inbox import inbox

    view = Table(title="inbox")
    for column in ("id", "at (UTC)", "read", "subject", "body"):
        view.add_column(column)
    for item in inbox(signed_in(conf), unread=unread):
        view.add_row(str(item.id), f"{item.at:%Y-%m-%d %H:%M}", "yes" if item.read_at else "",
                     item.subject, item.body)  # fmt: skip
    out.print(view)


@notify_app.command("read")
@reports_errors
def notify_read(
    message: Annotated[int, typer.Argument(help="The id shown by govlake notify inbox.")],
    conf: ConfOption = None,
) -> None:
    """Mark one of your in-app messages read."""
    from services.notifications.inbox import mark_read

    mark_read(signed_in(conf), message)
    out.print(f"{message}: read")


@notify_app.command("contact")
@reports_errors
def notify_contact(
    username: Annotated[str, typer.Argument(help="Whose address.")],
    email: Annotated[str, typer.Option("--email", help="Where they receive e-mail.")],
    conf: ConfOption = None,
) -> None:
    """Set where someone receives e-mail: yourself, or as an administrator of their organisation."""
    from services.notifications.contacts import set_email

    set_email(signed_in(conf), username, email)
    out.print(f"{username}: e-mail to {email}", highlight=False)


def _since(since: str | None) -> datetime | None:
    if since is None:
        return None
    try:
        start = datetime.fromisoformat(since)
    except ValueError:
        raise GovlakeError(f"--since {since!r} is not a date or an ISO time") from None
    return start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)


def _show(found: list[DeliveryView], title: str) -> None:
    view = Table(title=title)
    for column in ("id", "message", "event", "to", "channel", "status", "attempts", "next (UTC)",
                   "sent (UTC)", "resend of", "last error"):  # fmt: skip
        view.add_column(column)
    for d in found:
        view.add_row(
            str(d.id), str(d.message), d.event, d.address, d.channel, d.status, str(d.attempts),
            f"{d.next_attempt_at:%Y-%m-%d %H:%M:%S}" if d.next_attempt_at else "",
            f"{d.sent_at:%Y-%m-%d %H:%M:%S}" if d.sent_at else "",
            str(d.resend_of or ""), (d.last_error or "")[:80],
        )  # fmt: skip
    out.print(view)
