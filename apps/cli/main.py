"""The ``govlake`` command: every job runs here without Airflow, and the demo runs it with Airflow.

Errors a user can fix (configuration, input, unreachable sources) print as one clear line on
stderr and exit with status 1; nothing is written when a run cannot start.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from apps.cli.applications import applications_app, apply
from apps.cli.audit import audit_app
from apps.cli.catalog import catalog_app
from apps.cli.common import DEBUG, ConfOption, err, out, reports_errors, runtime, signed_in
from apps.cli.demo_report import lakehouse_tables
from apps.cli.exchange import exchange_app
from apps.cli.grants import grants_app
from apps.cli.identity import admin_app, login, logout, whoami
from apps.cli.notify import notify_app
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


@app.callback()
def _options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of a failure.")
    ] = False,
) -> None:
    """govlake: the data backbone of the application collaboration platform."""
    from apps.doctor import owner_only

    owner_only()
    if debug:
        os.environ[DEBUG] = "1"


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
app.add_typer(applications_app, name="applications")
app.add_typer(notify_app, name="notify")
app.command("apply")(apply)


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
    """Run pipelines now, without Airflow, as the logged-in user (needs ``build`` on each table)."""
    from apps.guarded import run_pipelines
    from jobs.runner import manual_run_id

    rt = signed_in(conf)
    names = pipelines or [p.name for p in rt.config.pipeline_order()]
    for result in run_pipelines(rt, names, run_id=manual_run_id(), progress=out.print):
        out.print(f"  {result.ref}: {result.status}, {result.rows} rows, version {result.version}")


@app.command()
@reports_errors
def demo(
    rows: Annotated[int, typer.Option(help="Registry rows to seed on first run.")] = 2000,
    conf: ConfOption = None,
) -> None:
    """Run the main job on the embedded default: seeded registry -> bronze -> silver -> gold."""
    from apps.cli.demo_report import show
    from apps.demo import run_demo

    show(run_demo(runtime(conf), rows=rows, progress=lambda m: out.print(f"[cyan]>[/cyan] {m}")))


@app.command()
@reports_errors
def tables(conf: ConfOption = None) -> None:
    """List lakehouse tables with rows, version and last commit; exit 1 if one is broken."""
    from apps.guarded import readable
    from govlake.lakehouse import BrokenTableError

    rt = signed_in(conf)
    shown, broken = [], []
    for ref in readable(rt, "read_metadata", rt.lake.present(rt.config.datasets)):
        try:
            info = rt.lake.describe(ref)
        except BrokenTableError as exc:
            broken.append(str(exc))
            continue
        shown.append(info)
        broken += [f"table {ref}: file {f} is in the Delta log but missing from storage"
                   for f in info.missing_files]  # fmt: skip
    lakehouse_tables(shown)
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
    """Query lakehouse tables by name, e.g. SELECT count(*) FROM silver.enterprise_registry.

    Needs ``read_data`` on every table the query reads; each read is in the audit.
    """
    from apps.guarded import query

    if output not in {"table", "csv", "json"}:
        raise GovlakeError(f"--format must be table, csv or json, not {output!r}")
    result = query(signed_in(conf), statement)
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
    """Compact small files and vacuum unreferenced ones (needs ``build`` on each table)."""
    from apps.guarded import maintain as run_maintenance

    rt = signed_in(conf)
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
def doctor(conf: ConfOption = None) -> None:
    """Self-check: owner-only files, keys set, platform DB revision, audit ledger; exit 1 if not.

    Needs ``administer`` on the platform department (a platform administrator).
    """
    from apps.doctor import checks
    from services.identity.policy import acting, require

    rt = signed_in(conf)
    require(rt, acting(rt), "administer", f"organisation:{rt.config.catalog.platform_department}")
    found = checks(rt)
    for c in found:
        mark = "[green]ok[/green]  " if c.ok else "[red]FAIL[/red]"
        out.print(f"{mark} {c.name}: {c.detail}", highlight=False, soft_wrap=True)
    if not all(c.ok for c in found):
        raise typer.Exit(1)


@app.command()
@reports_errors
def ui(conf: ConfOption = None) -> None:
    """Start the Airflow UI (airflow standalone) on govlake's DAGs and the demo's data."""
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
