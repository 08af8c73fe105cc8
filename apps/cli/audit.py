"""``govlake audit``: verify the ledger, read its events, checkpoint its head.

Each command acts as the logged-in user and needs ``read_audit``: an auditor's verb and nobody
else's; a refusal is itself audited. A ledger that does not verify is told to every auditor.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from apps.cli.common import ConfOption, err, out, reports_errors, signed_in
from apps.cli.listing import Format, FormatOption, Listing, emit
from govlake.errors import GovlakeError
from govlake.runtime import Runtime

if TYPE_CHECKING:
    from services.audit import Outcome

audit_app = typer.Typer(
    help="The tamper-evident audit ledger: verify it, read it, checkpoint it.",
    no_args_is_help=True,
)


def _auditor(conf: Path | None) -> Runtime:
    """The runtime of the logged-in user, who must hold ``read_audit``."""
    from services.identity.policy import require

    rt = signed_in(conf)
    assert rt.principal is not None
    require(rt, rt.principal, "read_audit", "audit")
    return rt


@audit_app.command("verify")
@reports_errors
def audit_verify(conf: ConfOption = None) -> None:
    """Recompute the hash chain and compare it with the signed checkpoints; exit 1 if tampered."""
    from services.audit import verify

    rt = _auditor(conf)
    result = verify(rt)
    for problem in result.problems:
        err.print(f"[red]tampered[/red]: {problem}", markup=True, highlight=False)
    if not result.ok:
        _tell_auditors(rt, [str(p) for p in result.problems])
        raise typer.Exit(1)
    if result.checkpoint is None:
        anchor = "no checkpoint yet, so a cut-off tail would not show (govlake audit checkpoint)"
    else:
        anchor = f"agrees with the checkpoint of {result.checkpoint.at:%Y-%m-%d %H:%M:%S} UTC"
    out.print(f"ok: {result.events} events verified up to row {result.last_id}; {anchor}")


def _tell_auditors(rt: Runtime, problems: list[str]) -> None:
    """Every auditor is told that the ledger does not verify (the message service)."""
    from services.notifications import Notice, notify

    assert rt.principal is not None
    context = {"actor": rt.principal.username, "count": len(problems), "first": problems[0]}
    notify(rt, Notice("audit.tampered", "audit", ["may:read_audit@audit"], context),
           by=rt.principal.username)  # fmt: skip


@audit_app.command("log")
@reports_errors
def audit_log(
    user: Annotated[str | None, typer.Option("--user", help="Who acted (principal).")] = None,
    action: Annotated[str | None, typer.Option(help="e.g. catalog.publish")] = None,
    object: Annotated[str | None, typer.Option("--object", help="e.g. GL-000004")] = None,
    since: Annotated[
        str | None, typer.Option(help="YYYY-MM-DD or an ISO time (UTC unless it has an offset).")
    ] = None,
    outcome: Annotated[str | None, typer.Option(help="success, refused or failed")] = None,
    limit: Annotated[int, typer.Option(help="Events shown, newest first.")] = 50,
    fmt: FormatOption = Format.table,
    conf: ConfOption = None,
) -> None:
    """The latest events, newest first, filtered."""
    from services.audit import events

    if outcome not in (None, "success", "refused", "failed"):
        raise GovlakeError(f"--outcome must be success, refused or failed, not {outcome!r}")
    try:
        start = datetime.fromisoformat(since) if since else None
    except ValueError:
        raise GovlakeError(f"--since {since!r} is not a date or an ISO time") from None
    found = events(
        _auditor(conf), user=user, action=action, object=object, since=start,
        outcome=cast("Outcome | None", outcome), limit=limit,
    )  # fmt: skip
    listing = Listing("audit ledger", ("id", "at (UTC)", "user", "org.", "action", "object",
                      "outcome", "client", "details"))  # fmt: skip
    for e in found:
        listing.add(e.id, e.at, e.principal, e.organisation, e.action, e.object, e.outcome,
                    e.client, e.details or None)  # fmt: skip
    emit(listing, fmt)


@audit_app.command("checkpoint")
@reports_errors
def audit_checkpoint(conf: ConfOption = None) -> None:
    """Verify the ledger, then sign its head into a new checkpoint file."""
    from services.audit import checkpoint

    head, path = checkpoint(_auditor(conf))
    out.print(f"checkpoint: {head.count} events, row {head.last_id} {head.last_hash[:16]}...")
    out.print(f"written to {path}")
