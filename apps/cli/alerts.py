"""``govlake alerts``: what is overdue, who was warned and who it was escalated to.

``list`` shows each overdue item once: a pipeline or subscription run past its deadline, or an
application step past its handling time, with its deadline, how long it is overdue (until
now, or until it ended), and the people warned and escalated to; it needs ``read_messages``
on the platform department. ``check`` warns and escalates the application steps due now (the
``notify_worker`` DAG runs it too); it needs ``send_messages``. Both are audited.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from apps.cli.common import ConfOption, out, reports_errors, signed_in
from apps.cli.listing import Format, FormatOption, Listing, emit
from services.identity.settings import utc_now

if TYPE_CHECKING:
    from services.notifications.alerts import Alert

alerts_app = typer.Typer(
    help="Delay alerts: runs past their deadline, application steps past their handling time.",
    no_args_is_help=True,
)
KINDS = {"pipeline_run": "pipeline run", "subscription_run": "subscription",
         "application_step": "application step", "dataset_freshness": "stale dataset"}  # fmt: skip
COLUMNS = ("kind", "object", "deadline (UTC)", "overdue by", "warned", "escalated",
           "resolved (UTC)")  # fmt: skip


@alerts_app.command("list")
@reports_errors
def list_alerts(
    everything: Annotated[
        bool, typer.Option("--all", help="Also the items no longer overdue (ended, handled).")
    ] = False,
    fmt: FormatOption = Format.table,
    conf: ConfOption = None,
) -> None:
    """Overdue items, oldest deadline first: kind, object, deadline, overdue by, who was told."""
    from services.notifications.alerts import listed

    listing = Listing("overdue", COLUMNS, right=frozenset({"overdue by"}))
    for row in rows(listed(signed_in(conf), resolved=everything), utc_now()):
        listing.add(*row)
    emit(listing, fmt)


@alerts_app.command("check")
@reports_errors
def check(conf: ConfOption = None) -> None:
    """Warn, then escalate, overdue application steps; tell of stale datasets (each once)."""
    from catalog.sharing.overdue import check as check_applications
    from services.notifications.stale_data import check as check_freshness

    rt = signed_in(conf)
    raised = check_applications(rt)
    for one in raised:
        out.print(f"{one.code} ({one.status}): {one.stage}, due {one.deadline:%Y-%m-%d %H:%M} UTC")
    stale = check_freshness(rt)
    for table in stale:
        out.print(f"{table.dataset} v{table.version}: stale, newest record "
                  f"{table.newest:%Y-%m-%d %H:%M} UTC")  # fmt: skip
    out.print(f"alerts raised: {len(raised) + len(stale)}")


def rows(found: Iterable[Alert], now: datetime) -> list[tuple[object, ...]]:
    """One row per overdue object: its stages merged, warned (or late) and escalated."""
    merged: dict[tuple[str, str], list[Alert]] = {}
    for alert in found:
        merged.setdefault((alert.kind, alert.object), []).append(alert)
    shown: list[tuple[object, ...]] = []
    for (kind, about), stages in merged.items():
        deadline = min(s.deadline for s in stages)
        ended = next((s.resolved_at for s in stages if s.resolved_at), None)
        overdue = timedelta(seconds=int(((ended or now) - deadline).total_seconds()))
        warned = [p for s in stages if s.stage != "escalation" for p in s.told]
        escalated = [p for s in stages if s.stage == "escalation" for p in s.told]
        shown.append((KINDS.get(kind, kind), shown_object(about), deadline, overdue,
                      ", ".join(warned), ", ".join(escalated), ended))  # fmt: skip
    return shown


def shown_object(about: str) -> str:
    """``<dag> <run>`` for a run, ``<code> (<status>)`` for a step, ``<dataset> v<N>`` if stale."""
    if about.startswith("dag:") and ":run:" in about:
        dag, run = about.removeprefix("dag:").split(":run:", 1)
        return f"{dag} {run}"
    if about.startswith("application:"):
        code, _, status = about.removeprefix("application:").rpartition(":")
        return f"{code} ({status})"
    if about.startswith("dataset:") and "@v" in about:
        ref, version = about.removeprefix("dataset:").rsplit("@v", 1)
        return f"{ref} v{version}"
    return about
