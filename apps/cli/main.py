"""The ``govlake`` command: every job runs here without Airflow, and the demo runs it with Airflow.

Errors a user can fix (configuration, input, unreachable sources) print as one clear line on
stderr and exit with status 1; nothing is written when a run cannot start.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from apps.cli.alerts import alerts_app
from apps.cli.applications import applications_app, apply
from apps.cli.audit import audit_app
from apps.cli.catalog import catalog_app
from apps.cli.common import (
    DEBUG,
    ConfOption,
    err,
    one_line,
    out,
    reports_errors,
    runtime,
    signed_in,
)
from apps.cli.demo_report import lakehouse_tables
from apps.cli.exchange import exchange_app
from apps.cli.grants import grants_app
from apps.cli.identity import admin_app, login, logout, whoami
from apps.cli.listing import Format, FormatOption, Listing, emit, identifiers
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


def _version(asked: bool) -> None:
    """Print the installed version and stop."""
    if asked:
        from importlib.metadata import version

        out.print(f"govlake {version('govlake')}")
        raise typer.Exit


@app.callback()
def _options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of a failure.")
    ] = False,
    _: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
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
app.add_typer(alerts_app, name="alerts")
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
    failed = []
    for done in run_pipelines(rt, names, run_id=manual_run_id(), progress=out.print):
        for r in done.results:
            out.print(f"  {r.ref}: {r.status}, {r.rows} rows, version {r.version}")
        if done.skipped_for:
            err.print(f"[yellow]skipped[/yellow]: {done.name}: it reads what {done.skipped_for} "
                      "builds, which failed", markup=True, highlight=False)  # fmt: skip
        elif done.error is not None:
            err.print(f"[red]error[/red]: {done.name}: {one_line(done.error)}", markup=True,
                      highlight=False)  # fmt: skip
        if not done.ok:
            failed.append(done.name)
    if failed:
        if len(names) > 1:
            err.print(f"{len(failed)} of {len(names)} pipeline(s) did not finish: "
                      f"{', '.join(failed)}")  # fmt: skip
        raise typer.Exit(1)


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
def tables(fmt: FormatOption = Format.table, conf: ConfOption = None) -> None:
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
    lakehouse_tables(shown, fmt)
    for problem in broken:
        err.print(f"[red]error[/red]: {problem}", markup=True, highlight=False)
    if broken:
        raise typer.Exit(1)


@app.command()
@reports_errors
def sql(
    statement: Annotated[str, typer.Argument(help="SQL over tables named zone.table.")],
    fmt: FormatOption = Format.table,
    limit: Annotated[int, typer.Option(help="Rows shown in table format.")] = 50,
    conf: ConfOption = None,
) -> None:
    """Query lakehouse tables by name, e.g. SELECT count(*) FROM silver.enterprise_registry.

    Needs ``read_data`` on every table the query reads; each read is in the audit. Column
    names become identifiers in json, jsonl, yaml and csv (``count_star()`` -> ``count_star``).
    """
    from apps.guarded import query

    result = query(signed_in(conf), statement)
    if fmt is Format.csv:
        import pyarrow.csv as pacsv

        nested = [f"{f.name} ({f.type})" for f in result.schema if f.type.num_fields]
        if nested:
            raise GovlakeError(
                f"--format csv cannot hold nested columns: {', '.join(nested)}; "
                "use --format json, or select their fields"
            )
        pacsv.write_csv(result.rename_columns(identifiers(result.column_names)), sys.stdout.buffer)
        return
    shown = result.slice(0, limit) if fmt is Format.table else result
    listing = Listing("", result.column_names)
    for row in shown.to_pylist():
        listing.add(*row.values())
    emit(listing, fmt)
    if fmt is Format.table and result.num_rows > limit:
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
