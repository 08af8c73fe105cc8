"""What ``govlake demo`` prints: its people (once), runs, tables, deliveries, catalog, audit.

The summary fits an 80-column terminal: names are folded, never cut, and every table says what
this run did ("new") apart from what an earlier run left ("earlier").
"""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING

import typer

from apps.cli.common import err, out
from apps.cli.listing import Format, Listing, emit
from apps.cli.token_file import token_path
from apps.demo_shares import SERVER, ShareAccess
from catalog.labels import STATUS_NAMES

if TYPE_CHECKING:
    from apps.demo import DemoReport
    from govlake.lakehouse import TableInfo


def show(report: DemoReport) -> None:
    """Print the demo's report; exit 1 when the audit ledger does not verify."""
    if report.people:
        columns = ("username", "organisation", "role", "password")
        people = Listing("Demo users: passwords shown this once, stored nowhere", columns,
                         whole=frozenset({"username", "password"}), compact=True)  # fmt: skip
        for p in report.people:
            people.add(p.username, p.organisation, p.role, p.password)
        emit(people, Format.table)
    runs = Listing("DAG runs (Airflow, in process)", ("DAG", "state", "seconds"),
                   right=frozenset({"seconds"}), compact=True)  # fmt: skip
    for r in report.runs:
        runs.add(r.dag_id, r.state, f"{r.seconds:.1f}")
    emit(runs, Format.table)
    _tables(report)
    _deliveries(report)
    _shares(report)
    catalog = Listing("Data catalog (govlake catalog list|show|search)",
                      ("code", "dataset", "title", "status"), whole=frozenset({"dataset"}),
                      compact=True)  # fmt: skip
    for e in report.catalog:
        catalog.add(e.code, e.dataset, e.definition.title, STATUS_NAMES[e.status])
    emit(catalog, Format.table)
    _places(report)
    _audit(report)


def lakehouse_tables(tables: list[TableInfo], fmt: Format = Format.table) -> None:
    """The tables with rows, version, files, size and last commit."""
    human = fmt is Format.table
    counts = ("rows", "version", "files")
    columns = ("table", *counts, "size" if human else "bytes", "last commit (UTC)", "operation")
    listing = Listing("Lakehouse tables", columns, right=frozenset(counts))
    for t in tables:
        size = f"{t.size_bytes / 1024:.0f} KiB" if human else t.size_bytes
        listing.add(t.ref, t.rows, t.version, t.files, size, t.last_commit, t.last_operation)
    emit(listing, fmt)


def _tables(report: DemoReport) -> None:
    """Each table's rows, version, quality score and whether this run committed to it."""
    numbers = ("rows", "v", "quality")
    columns = ("table", *numbers, "this run")
    listing = Listing(
        "Lakehouse tables (govlake tables)", columns, right=frozenset(numbers), compact=True
    )
    for t in report.tables:
        score = report.quality.get(t.ref)
        listing.add(t.ref, t.rows, t.version, "" if score is None else f"{score:.1f}",
                    "new" if t.last_commit >= report.began else "earlier")  # fmt: skip
    emit(listing, Format.table)


def _deliveries(report: DemoReport) -> None:
    """Each subscription's last delivery, and whether this run made it."""
    if not report.deliveries:
        return
    listing = Listing("Exchange deliveries (govlake exchange report)",
                      ("subscription", "node", "status", "rows", "this run"),
                      right=frozenset({"rows"}), whole=frozenset({"subscription"}),
                      compact=True)  # fmt: skip
    for d in report.deliveries:
        started = d.started_at if d.started_at.tzinfo else d.started_at.replace(tzinfo=UTC)
        listing.add(d.subscription, d.node, d.status, d.rows,
                    "new" if started >= report.began else "earlier")  # fmt: skip
    emit(listing, Format.table)


def _shares(report: DemoReport) -> None:
    listing = Listing("Shares in force (served by govlake catalog serve)",
                      ("department", "mode", "application", "resource"), compact=True)  # fmt: skip
    for share in report.shares:
        listing.add(share.department, share.mode, share.application, share.resource)
    emit(listing, Format.table)
    for share in report.shares:
        out.print(f"{share.department} ({share.mode}):", highlight=False)
        for line in _how(share):
            out.print(f"  {line}", soft_wrap=True, highlight=False)


def _how(share: ShareAccess) -> tuple[str, ...]:
    """How the department calls its share, once ``govlake catalog serve`` runs."""
    if share.profile is not None:
        schema, _, table = share.dataset.partition(".")
        fetch = f"govlake applications profile {share.application} --out {share.profile}"
        made = () if share.profile.exists() else (fetch,)
        coordinates = f"{share.application.lower()}.{schema}.{table}"
        return (*made, f"delta_sharing.load_as_pandas('{share.profile}#{coordinates}')")
    service = f"{SERVER}/v1/resources/{share.resource}/service"
    return (
        f"govlake login {share.department}.analyst",
        f'curl -H "Authorization: Bearer $(cat {token_path()})" "{service}/records?limit=10"',
        f"(its schema: {service}/openapi.json)",
    )


def _places(report: DemoReport) -> None:
    out.print(f"data docs:    {report.data_docs}  (govlake quality report)", soft_wrap=True)
    out.print(f"lakehouse:    {report.lakehouse}", soft_wrap=True)
    out.print(f"airflow home: {report.airflow_home}  (log: {report.log})", soft_wrap=True)
    out.print(f"keys:         {report.keys}", soft_wrap=True)
    for code in report.waiting:
        out.print(f"[yellow]waiting[/yellow]: {code} is registered: its steward reviews it "
                  f"(govlake catalog review {code} --approve)")  # fmt: skip


def _audit(report: DemoReport) -> None:
    audit = report.audit
    for problem in audit.problems:
        err.print(f"[red]tampered[/red]: {problem}", markup=True, highlight=False)
    if not audit.ok:
        raise typer.Exit(1)
    out.print(f"audit:        OK, {audit.events} events verified and checkpointed")
    out.print(f"took {report.seconds:.1f} s. Next, as an analyst:")
    for line in (
        f"set -a; . {report.keys}; set +a",
        ".venv/bin/govlake login platform.analyst",
        '.venv/bin/govlake sql "SELECT risk_level, count(*) AS n FROM '
        'gold.enterprise_credit_profile GROUP BY risk_level"',
    ):
        out.print(f"  {line}", soft_wrap=True, highlight=False)
