"""The ``govlake`` command: every job runs here without Airflow, and the demo runs it with Airflow.

Errors a user can fix (configuration, input, unreachable sources) print as one clear line on
stderr and exit with status 1; nothing is written when a run cannot start.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from apps.cli.audit import audit_app
from apps.cli.catalog import catalog_app
from apps.cli.common import ConfOption, err, out, reports_errors, runtime
from apps.cli.exchange import exchange_app
from apps.cli.grants import grants_app
from apps.cli.identity import admin_app, login, logout, whoami
from apps.cli.orgs import orgs_app
from apps.cli.quality import quality_app
from apps.cli.users import users_app
from govlake.config.loader import load_config
from govlake.errors import GovlakeError

app = typer.Typer(
    help="govlake: the data backbone of the application collaboration platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
conf_app = typer.Typer(help="Check the declarative configuration in conf/.", no_args_is_help=True)
app.add_typer(conf_app, name="conf")
app.add_typer(quality_app, name="quality")
app.add_typer(exchange_app, name="exchange")
app.add_typer(catalog_app, name="catalog")
app.add_typer(admin_app, name="admin")
app.add_typer(users_app, name="users")
app.add_typer(orgs_app, name="orgs")
app.add_typer(grants_app, name="grants")
app.add_typer(audit_app, name="audit")


@conf_app.command("check")
@reports_errors
def conf_check(
    directory: Annotated[
        Path | None, typer.Argument(help="Configuration folder (default: $GOVLAKE_CONF or ./conf).")
    ] = None,
) -> None:
    """Validate every file in the conf folder and report all problems with file and line."""
    config = load_config(directory)
    out.print(
        f"{config.conf_dir}: ok: {len(config.sources)} sources, {len(config.datasets)} "
        f"datasets, {len(config.pipelines)} pipelines, {len(config.departments)} departments"
    )


@app.command()
@reports_errors
def run(
    pipelines: Annotated[
        list[str] | None, typer.Argument(help="Pipelines to run (default: all, producers first).")
    ] = None,
    conf: ConfOption = None,
) -> None:
    """Run pipelines now, without Airflow."""
    from jobs.runner import manual_run_id, run_pipeline

    rt = runtime(conf)
    names = pipelines or [p.name for p in rt.config.pipeline_order()]
    run_id = manual_run_id()
    for name in names:
        for result in run_pipeline(rt, name, run_id=run_id, progress=out.print):
            out.print(
                f"  {result.ref}: {result.status}, {result.rows} rows, version {result.version}"
            )


@app.command()
@reports_errors
def demo(
    rows: Annotated[int, typer.Option(help="Registry rows to seed on first run.")] = 2000,
    conf: ConfOption = None,
) -> None:
    """Run the main job on the embedded default: seeded registry -> bronze -> silver -> gold."""
    from apps.demo import run_demo

    report = run_demo(runtime(conf), rows=rows, progress=lambda m: out.print(f"[cyan]>[/cyan] {m}"))
    runs = Table(title="DAG runs (Airflow, in process)")
    for column in ("DAG", "state", "seconds"):
        runs.add_column(column)
    for r in report.runs:
        runs.add_row(r.dag_id, r.state, f"{r.seconds:.1f}")
    out.print(runs)
    _print_tables(report.tables)
    if report.deliveries:
        sent = Table(title="Exchange deliveries (ledger: govlake exchange report)")
        for column in ("subscription", "batch", "status", "rows", "bytes", "to"):
            sent.add_column(column)
        for d in report.deliveries:
            sent.add_row(d.subscription, d.batch_id, d.status, str(d.rows), str(d.bytes or ""),
                         d.target)  # fmt: skip
        out.print(sent)
    entries = Table(title="Data catalog (govlake catalog list|show|search|review|publish)")
    for column in ("code", "dataset", "title", "version", "status", "update cycle"):
        entries.add_column(column)
    for e in report.catalog:
        entries.add_row(e.code, e.dataset, e.definition.title, str(e.version), e.status,
                        e.definition.update_cycle.label)  # fmt: skip
    out.print(entries)
    scores = ", ".join(f"{ref} {score:.1f}" for ref, score in report.quality.items())
    out.print(f"quality:      {scores}", soft_wrap=True)
    out.print(f"data docs:    {report.data_docs}  (govlake quality report)")
    out.print(f"lakehouse:    {report.lakehouse}")
    out.print(f"airflow home: {report.airflow_home}  (Airflow log: {report.log})")
    out.print(
        f'took {report.seconds:.1f} s. Try: .venv/bin/govlake sql "SELECT risk_level, count(*) '
        'FROM gold.enterprise_credit_profile GROUP BY risk_level"'
    )


def _print_tables(tables: list[Any]) -> None:
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


@app.command()
@reports_errors
def tables(conf: ConfOption = None) -> None:
    """List lakehouse tables with rows, version and last commit; exit 1 if one is broken."""
    from govlake.lakehouse import BrokenTableError

    rt = runtime(conf)
    shown, broken = [], []
    for ref in rt.lake.present(rt.config.datasets):
        try:
            info = rt.lake.describe(ref)
        except BrokenTableError as exc:
            broken.append(str(exc))
            continue
        shown.append(info)
        broken += [f"table {ref}: file {f} is in the Delta log but missing from storage"
                   for f in info.missing_files]  # fmt: skip
    _print_tables(shown)
    for problem in broken:
        err.print(f"[red]error[/red]: {problem}", markup=True, highlight=False)
    if broken:
        raise typer.Exit(1)


@app.command()
@reports_errors
def sql(
    statement: Annotated[str, typer.Argument(help="SQL over tables named zone.table.")],
    output: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    limit: Annotated[int, typer.Option(help="Rows shown in table format.")] = 50,
    conf: ConfOption = None,
) -> None:
    """Query lakehouse tables by name, e.g. SELECT count(*) FROM silver.enterprise_registry."""
    from jobs.query import query

    if output not in {"table", "csv", "json"}:
        raise GovlakeError(f"--format must be table, csv or json, not {output!r}")
    rt = runtime(conf)
    result = query(rt.lake, rt.config.datasets, statement)
    if output == "json":
        for row in result.to_pylist():
            sys.stdout.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        return
    if output == "csv":
        import pyarrow.csv as pacsv

        nested = [f"{f.name} ({f.type})" for f in result.schema if f.type.num_fields]
        if nested:
            raise GovlakeError(
                f"--format csv cannot hold nested columns: {', '.join(nested)}; "
                "use --format json, or select their fields"
            )
        pacsv.write_csv(result, sys.stdout.buffer)
        return
    view = Table()
    for name in result.column_names:
        view.add_column(name)
    for row in result.slice(0, limit).to_pylist():
        view.add_row(*("" if v is None else str(v) for v in row.values()))
    out.print(view)
    if result.num_rows > limit:
        out.print(f"({result.num_rows} rows, {limit} shown; use --limit or --format csv)")


@app.command()
@reports_errors
def maintain(
    refs: Annotated[
        list[str] | None, typer.Argument(help="Tables (zone.table); default: all.")
    ] = None,
    optimize: bool = True,
    vacuum: bool = True,
    conf: ConfOption = None,
) -> None:
    """Compact small files and vacuum unreferenced ones."""
    from jobs.maintenance import maintain as run_maintenance

    rt = runtime(conf)
    for ref in refs or []:
        rt.config.dataset(ref.removesuffix("__quarantine"))
    done = run_maintenance(rt, refs, optimize=optimize, vacuum=vacuum)
    for r in done:
        if r.problem:
            err.print(f"[red]error[/red]: {r.problem}", markup=True, highlight=False)
            continue
        out.print(
            f"{r.ref}: +{r.files_added} -{r.files_removed} files compacted, "
            f"{r.files_vacuumed} vacuumed"
        )
    if any(r.problem for r in done):
        raise typer.Exit(1)


@app.command()
@reports_errors
def ui(conf: ConfOption = None) -> None:
    """Start the Airflow UI (airflow standalone) on govlake's DAGs and the demo's data."""
    import os

    from apps.airflow_home import activate

    config = load_config(conf)
    home = activate(config.home, config.conf_dir)
    out.print(
        f"AIRFLOW_HOME={home}; the admin password is written to "
        f"{home}/simple_auth_manager_passwords.json.generated"
    )
    airflow = Path(sys.executable).with_name("airflow")
    # standalone starts its components as `airflow ...` from PATH: put this environment first.
    os.environ["PATH"] = f"{airflow.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    os.execv(airflow, [str(airflow), "standalone"])


for command in (login, logout, whoami):
    app.command()(command)
