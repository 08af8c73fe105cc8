"""What ``govlake demo`` prints: its people (once), runs, tables, deliveries, catalog, audit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from apps.cli.common import err, out

if TYPE_CHECKING:
    from apps.demo import DemoReport
    from govlake.lakehouse import TableInfo


def show(report: DemoReport) -> None:
    """Print the demo's report; exit 1 when the audit ledger does not verify."""
    if report.people:
        people = [(p.username, p.organisation, p.role, p.password) for p in report.people]
        _table("Demo users: passwords shown this once, stored nowhere",
               ("username", "organisation", "role", "password"), people)  # fmt: skip
    _table("DAG runs (Airflow, in process)", ("DAG", "state", "seconds"),
           [(r.dag_id, r.state, f"{r.seconds:.1f}") for r in report.runs])  # fmt: skip
    lakehouse_tables(report.tables)
    if report.deliveries:
        _table("Exchange deliveries (ledger: govlake exchange report)",
               ("subscription", "batch", "status", "rows", "bytes", "to"),
               [(d.subscription, d.batch_id, d.status, str(d.rows), str(d.bytes or ""), d.target)
                for d in report.deliveries])  # fmt: skip
    _table("Data catalog (govlake catalog list|show|search|review|publish)",
           ("code", "dataset", "title", "version", "status", "update cycle"),
           [(e.code, e.dataset, e.definition.title, str(e.version), e.status,
             e.definition.update_cycle.label) for e in report.catalog])  # fmt: skip
    _places(report)
    _audit(report)


def lakehouse_tables(tables: list[TableInfo]) -> None:
    """The tables with rows, version, files, size and last commit."""
    view = Table(title="Lakehouse tables")
    for column in ("table", "rows", "version", "files", "size", "last commit", "operation"):
        view.add_column(
            column, justify="right" if column in {"rows", "version", "files"} else "left"
        )
    for t in tables:
        view.add_row(
            t.ref,
            str(t.rows),
            str(t.version),
            str(t.files),
            f"{t.size_bytes / 1024:.0f} KiB",
            t.last_commit.strftime("%Y-%m-%d %H:%M:%S UTC"),
            t.last_operation,
        )
    out.print(view)


def _table(title: str, columns: tuple[str, ...], rows: Sequence[Sequence[str]]) -> None:
    view = Table(title=title)
    for column in columns:
        view.add_column(column)
    for row in rows:
        view.add_row(*row)
    out.print(view)


def _places(report: DemoReport) -> None:
    scores = ", ".join(f"{ref} {score:.1f}" for ref, score in report.quality.items())
    out.print(f"quality:      {scores}", soft_wrap=True)
    out.print(f"data docs:    {report.data_docs}  (govlake quality report)")
    out.print(f"lakehouse:    {report.lakehouse}")
    out.print(f"airflow home: {report.airflow_home}  (Airflow log: {report.log})")
    out.print(f"keys:         {report.keys}  (the embedded default's keys)")
    for code in report.waiting:
        out.print(f"[yellow]waiting[/yellow]: {code} is registered: its steward reviews it "
                  f"(govlake catalog review {code} --approve)")  # fmt: skip


def _audit(report: DemoReport) -> None:
    audit = report.audit
    for problem in audit.problems:
        err.print(f"[red]tampered[/red]: {problem}", markup=True, highlight=False)
    if not audit.ok:
        raise typer.Exit(1)
    out.print(f"audit:        OK, {audit.events} events verified and checkpointed "
              "(govlake audit verify, as the auditor)")  # fmt: skip
    out.print(
        f"took {report.seconds:.1f} s. Try: set -a; . {report.keys}; set +a; "
        '.venv/bin/govlake login platform.analyst; .venv/bin/govlake sql "SELECT risk_level, '
        'count(*) FROM gold.enterprise_credit_profile GROUP BY risk_level"',
        soft_wrap=True,
    )
