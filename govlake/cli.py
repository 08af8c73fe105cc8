"""The ``govlake`` command: every job runs here without Airflow, and the demo runs it with Airflow.

Errors a user can fix (configuration, input, unreachable sources) print as one clear line on
stderr and exit with status 1; nothing is written when a run cannot start.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from govlake.config import ConfError, ProjectConfig, load_config
from govlake.errors import GovlakeError

app = typer.Typer(
    help="govlake: the data backbone of the application collaboration platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
conf_app = typer.Typer(help="Check the declarative configuration in conf/.", no_args_is_help=True)
app.add_typer(conf_app, name="conf")
quality_app = typer.Typer(
    help="Validation suites, results and quality scores.", no_args_is_help=True
)
app.add_typer(quality_app, name="quality")

out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)
F = TypeVar("F", bound=Callable[..., Any])
ConfOption = Annotated[
    Path | None,
    typer.Option("--conf", help="Configuration folder (default: $GOVLAKE_CONF or ./conf)."),
]


def reports_errors(command: F) -> F:
    """Turn a GovlakeError into a one-line message and exit status 1."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ConfError as exc:
            for issue in exc.issues:
                err.print(f"[red]error[/red]: {issue}", markup=True, highlight=False)
            err.print(f"{len(exc.issues)} configuration problem(s); nothing was run.")
            raise typer.Exit(1) from None
        except GovlakeError as exc:
            err.print(f"[red]error[/red]: {exc}", markup=True, highlight=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _config(conf: Path | None) -> ProjectConfig:
    return load_config(conf)


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

    config = _config(conf)
    names = pipelines or [p.name for p in config.pipeline_order()]
    run_id = manual_run_id()
    for name in names:
        for result in run_pipeline(config, name, run_id=run_id, progress=out.print):
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
    from govlake.demo import run_demo

    config = _config(conf)
    report = run_demo(config, rows=rows, progress=lambda m: out.print(f"[cyan]>[/cyan] {m}"))
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
            sent.add_row(*(str(d[c]) for c in ("subscription", "batch_id", "status", "rows")),
                         str(d["bytes"] or ""), str(d["target"]))  # fmt: skip
        out.print(sent)
    entries = Table(title="Data catalog (govlake catalog list|show|search|review|publish)")
    for column in ("code", "dataset", "title", "version", "status", "update cycle"):
        entries.add_column(column)
    for e in report.catalog:
        d = e["definition"]
        entries.add_row(e["code"], e["dataset"], d["title"], str(e["version"]), e["status"],
                        d["update_cycle"]["label"])  # fmt: skip
    out.print(entries)
    scores = ", ".join(f"{ref} {score:.1f}" for ref, score in report.quality.items())
    out.print(f"quality:      {scores}")
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
    """List lakehouse tables with rows, version and last commit."""
    from govlake.lakehouse import Lakehouse

    config = _config(conf)
    lake = Lakehouse(config.lakehouse)
    _print_tables([lake.describe(ref) for ref in lake.present(config.datasets)])


@app.command()
@reports_errors
def sql(
    statement: Annotated[str, typer.Argument(help="SQL over tables named zone.table.")],
    output: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    limit: Annotated[int, typer.Option(help="Rows shown in table format.")] = 50,
    conf: ConfOption = None,
) -> None:
    """Query lakehouse tables by name, e.g. SELECT count(*) FROM silver.enterprise_registry."""
    from govlake.lakehouse import Lakehouse
    from govlake.sql import query

    if output not in {"table", "csv", "json"}:
        raise GovlakeError(f"--format must be table, csv or json, not {output!r}")
    config = _config(conf)
    result = query(Lakehouse(config.lakehouse), config.datasets, statement)
    if output == "json":
        for row in result.to_pylist():
            sys.stdout.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        return
    if output == "csv":
        import pyarrow.csv as pacsv

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

    config = _config(conf)
    for ref in refs or []:
        config.dataset(ref.removesuffix("__quarantine"))
    for r in run_maintenance(config, refs, optimize=optimize, vacuum=vacuum):
        out.print(
            f"{r.ref}: +{r.files_added} -{r.files_removed} files compacted, "
            f"{r.files_vacuumed} vacuumed"
        )


@app.command()
@reports_errors
def ui(conf: ConfOption = None) -> None:
    """Start the Airflow UI (airflow standalone) on govlake's DAGs and the demo's data."""
    import os

    from govlake.airflow_home import activate

    config = _config(conf)
    home = activate(config.home, config.conf_dir)
    out.print(
        f"AIRFLOW_HOME={home}; the admin password is written to "
        f"{home}/simple_auth_manager_passwords.json.generated"
    )
    airflow = Path(sys.executable).with_name("airflow")
    # standalone starts its components as `airflow ...` from PATH: put this environment first.
    os.environ["PATH"] = f"{airflow.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    os.execv(airflow, [str(airflow), "standalone"])


@quality_app.command("run")
@reports_errors
def quality_run(
    dataset: Annotated[str, typer.Argument(help="zone.table")], conf: ConfOption = None
) -> None:
    """Validate a table's current version with its suite and record the results."""
    from jobs.quality.on_demand import validate_table
    from jobs.runner import manual_run_id

    validation = validate_table(_config(conf), dataset, run_id=manual_run_id())
    view = Table(title=f"{dataset}: suite {validation.suite}")
    for column in ("expectation", "success", "unexpected", "observed"):
        view.add_column(column)
    for o in validation.outcomes:
        view.add_row(
            o.label,
            "yes" if o.success else ("WARN" if not o.blocking else "NO"),
            str(o.unexpected_count),
            o.observed or "",
        )
    out.print(view)
    out.print(
        f"score {validation.score} in {validation.seconds:.2f} s; Data Docs: {validation.docs}"
    )


@quality_app.command("report")
@reports_errors
def quality_report(
    dataset: Annotated[str | None, typer.Argument(help="zone.table")] = None,
    conf: ConfOption = None,
) -> None:
    """Latest validation of each dataset (or of one): score, failures, action."""
    from govlake.lakehouse import Lakehouse
    from jobs.quality.results import latest

    config = _config(conf)
    if dataset:
        config.dataset(dataset)
    rows = latest(Lakehouse(config.lakehouse), dataset).to_pylist()
    if not rows:
        raise GovlakeError("no validation recorded yet" + (f" for {dataset}" if dataset else ""))
    view = Table(title="Latest validations")
    for column in ("dataset", "version", "score", "passed", "failed", "action", "validated at"):
        view.add_column(column)
    for ref in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == ref]
        failed = [f"{r['expectation']}({r['column'] or ''})" for r in mine if not r["success"]]
        view.add_row(
            ref,
            str(mine[0]["version"]),
            f"{mine[0]['score']:.2f}",
            str(len(mine) - len(failed)),
            "\n".join(failed) or "-",
            mine[0]["action"],
            mine[0]["validated_at"].strftime("%Y-%m-%d %H:%M:%S UTC"),
        )
    out.print(view)


@quality_app.command("quarantine")
@reports_errors
def quality_quarantine(
    dataset: Annotated[str, typer.Argument(help="zone.table")],
    limit: int = 50,
    conf: ConfOption = None,
) -> None:
    """List a table's quarantined rows with the reason and the step that rejected them."""
    from govlake.lakehouse import QUARANTINE_SUFFIX, Lakehouse

    config = _config(conf)
    config.dataset(dataset)
    lake = Lakehouse(config.lakehouse)
    if not lake.exists(dataset + QUARANTINE_SUFFIX):
        out.print(f"{dataset}: nothing quarantined")
        return
    held = lake.read(dataset + QUARANTINE_SUFFIX)
    keys = [k for k in config.dataset(dataset).keys if k in held.column_names]
    view = Table(title=f"{dataset}__quarantine ({held.num_rows} rows)")
    for column in (*keys, "_stage", "_reason"):
        view.add_column(column)
    for row in held.slice(0, limit).to_pylist():
        view.add_row(*(str(row.get(c)) for c in (*keys, "_stage", "_reason")))
    out.print(view)


@quality_app.command("reprocess")
@reports_errors
def quality_reprocess(
    dataset: Annotated[str, typer.Argument(help="zone.table")], conf: ConfOption = None
) -> None:
    """Send quarantined rows through the step that rejected them again, after a fix."""
    from jobs.quality.reprocess import reprocess
    from jobs.runner import manual_run_id

    done = reprocess(_config(conf), dataset, run_id=manual_run_id())
    out.print(
        f"{done.ref}: {done.read} quarantined rows re-processed, {done.published} "
        f"published, {done.still_quarantined} still quarantined"
    )


from govlake.cli_exchange import exchange_app  # noqa: E402 (it uses the helpers above)

app.add_typer(exchange_app, name="exchange")

from govlake.cli_catalog import catalog_app  # noqa: E402 (it uses the helpers above)

app.add_typer(catalog_app, name="catalog")
