"""``govlake exchange``: nodes, deliveries, resends, the ledger report and the receiver's check.

Every command but ``verify`` (the receiver's, on files only) acts as the logged-in user.
Listing nodes, subscriptions (with the share grant that authorises each) and the report need
``read_metadata`` on the nodes shown; checking a node
connects to its endpoints with its credentials, so it needs ``deliver`` on it.
Approving or disabling a node needs ``approve_node`` on ``node:<name>``, delivering or resending
``deliver`` on the subscription's node; both act as the logged-in user, whom the node's history
names, and each, allowed or refused, is an audit row (``exchange.node_approve``,
``exchange.node_disable``, ``exchange.deliver``, ``exchange.resend``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from apps.cli.common import ConfOption, out, reports_errors, signed_in
from apps.cli.listing import Format, FormatOption, Listing, emit
from govlake.errors import GovlakeError
from services.identity.policy import acting, authorize, require
from services.identity.settings import utc_now

if TYPE_CHECKING:
    from govlake.runtime import Runtime
    from jobs.exchange.deliver import Delivery

exchange_app = typer.Typer(
    help="Department exchange: nodes, deliveries and the exchange ledger.", no_args_is_help=True
)
nodes_app = typer.Typer(help="Exchange nodes and their approval.", no_args_is_help=True)
exchange_app.add_typer(nodes_app, name="nodes")
Reason = Annotated[str | None, typer.Option("--reason", help="Recorded in the ledger.")]


@nodes_app.command("list")
@reports_errors
def nodes_list(fmt: FormatOption = Format.table, conf: ConfOption = None) -> None:
    """Nodes with their department and status."""
    from jobs.exchange.ledger import Ledger

    rt = signed_in(conf)
    shown = set(_nodes(rt, "read_metadata", None))
    ledger = Ledger(rt.platform_db)
    ledger.sync_nodes(rt.config)
    listing = Listing("exchange nodes", ("node", "department", "status", "since (UTC)", "by"))
    for node in (n for n in ledger.nodes() if n.name in shown):
        listing.add(node.name, node.department, node.status, node.changed_at, node.changed_by)
    emit(listing, fmt)


def _nodes(rt: Runtime, verb: str, name: str | None, *, every: bool = False) -> list[str]:
    """The nodes (``name``, or all) the user may ``verb``; with ``every``, refused unless all."""
    names = [rt.config.node(name).name] if name else list(rt.config.nodes)
    principal = acting(rt)
    if every:
        for node in names:
            require(rt, principal, verb, f"node:{node}")
        return names
    return [n for n in names if authorize(rt, principal, verb, f"node:{n}").allowed]


def _set_status(conf: Path | None, name: str, status: str, reason: str | None) -> None:
    from apps.guarded import set_node_status

    out.print(f"{name}: {set_node_status(signed_in(conf), name, status, reason)}")


@nodes_app.command("approve")
@reports_errors
def nodes_approve(name: str, reason: Reason = None, conf: ConfOption = None) -> None:
    """Approve a registered (or re-enable a disabled) node: it receives deliveries."""
    _set_status(conf, name, "approved", reason)


@nodes_app.command("disable")
@reports_errors
def nodes_disable(name: str, reason: Reason = None, conf: ConfOption = None) -> None:
    """Disable a node: its deliveries are refused, and the ledger says so."""
    _set_status(conf, name, "disabled", reason)


@nodes_app.command("check")
@reports_errors
def nodes_check(
    name: Annotated[str | None, typer.Argument(help="One node (default: all).")] = None,
    conf: ConfOption = None,
) -> None:
    """Connect to every endpoint; exit 1 when one cannot be reached."""
    from jobs.exchange.health import check

    rt = signed_in(conf)
    _nodes(rt, "deliver", name, every=True)
    results = check(rt.config, name)
    for r in results:
        out.print(
            f"{'ok  ' if r.ok else 'FAIL'} {r.node}.{r.endpoint}: {r.detail}", highlight=False
        )
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@exchange_app.command("subscriptions")
@reports_errors
def subscriptions(fmt: FormatOption = Format.table, conf: ConfOption = None) -> None:
    """Subscriptions with the grant that authorises each: in force, none, expired or revoked.

    Conf declares a flow; a grant in force for the node's department authorises it (a flow to
    the dataset's owner needs none). Deliveries without one are refused.
    """
    from catalog.sharing.subscriptions import authorisation

    rt = signed_in(conf)
    shown = set(_nodes(rt, "read_metadata", None))
    now = utc_now()
    columns = ("subscription", "node", "department", "dataset", "mode", "grant", "standing",
               "until (UTC)")  # fmt: skip
    listing = Listing("exchange subscriptions", columns)
    for sub in (s for s in rt.config.subscriptions.values() if s.node in shown):
        found = authorisation(rt, sub.name, now)
        grant = found.grant
        listing.add(sub.name, sub.node, found.department, sub.dataset, found.mode,
                    grant.id if grant else None, found.standing,
                    grant.valid_until if grant else None)  # fmt: skip
    emit(listing, fmt)


@exchange_app.command("deliver")
@reports_errors
def deliver_now(subscription: str, conf: ConfOption = None) -> None:
    """Deliver the subscription's next batch now, as its DAG would."""
    out.print(f"{subscription}: {_deliver(conf, subscription, None).status}")


def _deliver(conf: Path | None, subscription: str, resend: str | None) -> Delivery:
    """Deliver (or resend) as the logged-in user, once ``deliver`` on the node is allowed."""
    from apps.guarded import deliver

    return deliver(signed_in(conf), subscription, resend=resend, progress=out.print)


@exchange_app.command("resend")
@reports_errors
def resend(
    subscription: str,
    batch: Annotated[str, typer.Option("--batch", help="A delivered batch id.")] = "last",
    conf: ConfOption = None,
) -> None:
    """Deliver a past batch again (the last delivered one by default)."""
    done = _deliver(conf, subscription, batch)
    out.print(f"{subscription}: {done.status} {done.batch_id}")


@exchange_app.command("verify")
def verify(
    path: Annotated[Path, typer.Argument(help="A delivered file, its manifest, or a folder.")],
) -> None:
    """Check delivered files against every field of their manifests; exit 1 naming what fails.

    The file name, batch id, bytes, SHA-256, format and encoding, columns and types, and rows.
    """
    from jobs.exchange.receipt import verify as check

    problems = check(path)
    for problem in problems:
        out.print(f"FAIL {problem}", highlight=False)
    if problems:
        raise typer.Exit(1)
    out.print(f"ok: {path} matches its manifest(s)")


@exchange_app.command("report")
@reports_errors
def report(
    node: Annotated[str | None, typer.Option("--node")] = None,
    since: Annotated[str | None, typer.Option("--since", help="YYYY-MM-DD")] = None,
    fmt: FormatOption = Format.table,
    conf: ConfOption = None,
) -> None:
    """Volume per node per day, then each failed or refused attempt: who, and the reason.

    In a format for programs, the attempts alone: one record per failed or refused attempt.
    """
    from jobs.exchange.ledger import Ledger

    try:
        start = date.fromisoformat(since) if since else None
    except ValueError:
        raise GovlakeError(f"--since {since!r} is not a date (YYYY-MM-DD)") from None
    rt = signed_in(conf)
    _nodes(rt, "read_metadata", node, every=True)
    ledger = Ledger(rt.platform_db)
    attempts = ("started (UTC)", "subscription", "node", "batch", "by", "status", "reason")
    why = Listing("failed and refused attempts", attempts)
    for a in ledger.failures(node=node, since=start):
        why.add(a.started_at, a.subscription, a.node, a.batch_id, a.actor, a.status, a.error)
    if fmt is not Format.table:
        emit(why, fmt)
        return
    counts = ("delivered", "rows", "bytes", "failed", "refused")
    volume = Listing("exchange ledger", ("day", "node", *counts), right=frozenset(counts))
    for r in ledger.report(node=node, since=start):
        volume.add(r.day, r.node, r.delivered, r.rows, r.bytes, r.failed, r.refused)
    emit(volume, fmt)
    if why.rows:
        emit(why, fmt)
