"""The govlake command without Airflow: run, tables, maintain, sql, and one-line errors.

Each acts as the logged-in user: here an engineer of the city (``data_engineer@jinan``, whose
subtree owns every dataset), unless a test signs in someone else.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apps.cli.main import app
from govlake.config.project import ProjectConfig
from govlake.lakehouse import Lakehouse
from govlake.principal import Principal
from govlake.runtime import Runtime
from services.audit.read import events
from services.audit.records import AuditEvent

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def engineer(project: ProjectConfig, sign_in: Callable[..., Principal]) -> Principal:
    return sign_in(project.conf_dir, "engineer", "data_engineer", org="jinan")


def test_run_tables_and_maintain(project: ProjectConfig, registry_db: Path) -> None:
    runner = CliRunner()
    conf = ["--conf", str(project.conf_dir)]
    ran = runner.invoke(app, ["run", *conf])
    assert ran.exit_code == 0, ran.output
    assert "bronze.enterprise_registry: committed, 300 rows, version 0" in ran.output
    assert "gold.enterprise_directory: committed" in ran.output
    again = runner.invoke(app, ["run", "market_registry_ingest", *conf])
    assert "bronze.enterprise_registry: no_rows, 0 rows, version 0" in again.output
    tables = runner.invoke(app, ["tables", *conf])
    assert "silver.enterprise_registry__quarantine" in tables.output
    maintained = runner.invoke(app, ["maintain", "bronze.enterprise_registry", *conf])
    assert maintained.exit_code == 0, maintained.output
    assert "bronze.enterprise_registry: +0 -0 files compacted, 0 vacuumed" in maintained.output
    unknown = runner.invoke(app, ["maintain", "silver.nothing", *conf])
    assert unknown.exit_code == 1
    assert "unknown dataset 'silver.nothing'" in unknown.stderr


def test_unreachable_source_is_one_line_and_writes_nothing(
    project: ProjectConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_MARKET_REGISTRY_DB", "mysql://etl:pw@127.0.0.1:1/registry")
    done = CliRunner().invoke(
        app, ["run", "market_registry_ingest", "--conf", str(project.conf_dir)]
    )
    assert done.exit_code == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "error: market_registry_ingest: source market_registry: cannot connect to "
        "mysql+pymysql://etl:***@127.0.0.1:1"
    )
    assert not Lakehouse(project.lakehouse).exists("bronze.enterprise_registry")


def test_unknown_pipeline(project: ProjectConfig) -> None:
    done = CliRunner().invoke(app, ["run", "nightly", "--conf", str(project.conf_dir)])
    assert done.exit_code == 1
    assert "unknown pipeline 'nightly'; declared: enterprise_registry_refine" in done.stderr


def test_a_broken_table_is_named_and_the_others_still_answer(
    project: ProjectConfig, registry_db: Path
) -> None:
    runner = CliRunner()
    conf = ["--conf", str(project.conf_dir)]
    assert runner.invoke(app, ["run", *conf]).exit_code == 0
    lake = Lakehouse(project.lakehouse)
    log = Path(lake.uri("bronze.enterprise_registry")) / "_delta_log" / "00000000000000000000.json"
    log.write_text("{not a commit", encoding="utf-8")
    (gone,) = lake.table("gold.enterprise_directory").file_uris()
    Path(gone.removeprefix("file://")).unlink()

    tables = runner.invoke(app, ["tables", *conf])
    assert tables.exit_code == 1
    assert "silver.enterprise_registry" in tables.stdout, "the sound tables are listed"
    problems = tables.stderr.strip().splitlines()
    assert problems[0].startswith(f"error: table bronze.enterprise_registry: Delta log {log}")
    assert any(
        p.startswith("error: table gold.enterprise_directory: file ") and "missing" in p
        for p in problems
    )

    fine = runner.invoke(app, ["sql", "SELECT count(*) AS n FROM silver.enterprise_registry",
                               "--format", "csv", *conf])  # fmt: skip
    assert fine.exit_code == 0 and fine.stdout.splitlines()[1].isdigit()
    broken = runner.invoke(app, ["sql", "SELECT * FROM bronze.enterprise_registry", *conf])
    assert broken.exit_code == 1
    assert broken.stderr.startswith(f"error: table bronze.enterprise_registry: Delta log {log}")
    short = runner.invoke(app, ["sql", "SELECT count(*) FROM gold.enterprise_directory", *conf])
    assert short.exit_code == 1 and "missing from storage" in short.stderr

    maintained = runner.invoke(app, ["maintain", *conf])
    assert maintained.exit_code == 1
    assert "silver.enterprise_registry: +" in maintained.stdout
    assert "gold.enterprise_directory: 1 file(s) of the Delta log missing" in maintained.stderr


def test_csv_of_a_nested_column_is_one_line(project: ProjectConfig) -> None:
    runner = CliRunner()
    conf = ["--conf", str(project.conf_dir)]
    done = runner.invoke(app, ["sql", "SELECT [1, 2] AS l, 3 AS n", "--format", "csv", *conf])
    assert done.exit_code == 1
    assert done.stderr == (
        "error: --format csv cannot hold nested columns: l (list<l: int32>); use --format "
        "json, or select their fields\n"
    )
    flat = runner.invoke(app, ["sql", "SELECT [1, 2] AS l", "--format", "json", *conf])
    assert flat.exit_code == 0 and json.loads(flat.stdout) == [{"l": [1, 2]}]
    lines = runner.invoke(app, ["sql", "SELECT [1, 2] AS l, 3 AS n", "-o", "jsonl", *conf])
    assert lines.exit_code == 0 and lines.stdout == '{"l": [1, 2], "n": 3}\n'


def test_each_command_acts_as_a_user_allowed_to(
    project: ProjectConfig, registry_db: Path, sign_in: Callable[..., Principal]
) -> None:
    runner = CliRunner()
    conf = ["--conf", str(project.conf_dir)]

    def govlake(*args: str) -> tuple[int, str]:
        done = runner.invoke(app, [*args, *conf])
        return done.exit_code, done.output

    assert govlake("run", "market_registry_ingest")[0] == 0
    rt = Runtime.load(project.conf_dir)
    (built,) = [e for e in events(rt) if e.action == "dataset.build"]
    assert (built.principal, built.object, built.outcome) == (
        "engineer",
        "dataset:bronze.enterprise_registry",
        "success",
    )
    sign_in(project.conf_dir, "hr.analyst", "analyst", org="human_resources")
    refusals = {
        ("run", "market_registry_ingest"): "may not build dataset:bronze.enterprise_registry",
        ("maintain", "bronze.enterprise_registry"): "may not build dataset:bronze.enterprise_",
        ("quality", "run", "silver.enterprise_registry"): "may not build dataset:silver.",
        ("quality", "quarantine", "silver.enterprise_registry"): "may not read_data dataset:sil",
        ("sql", "SELECT count(*) FROM bronze.enterprise_registry"): "may not read_data dataset:",
        ("sql", "WITH t AS (SELECT * FROM BRONZE.Enterprise_Registry) SELECT 1 FROM t"):
            "may not read_data dataset:bronze.enterprise_registry",
        ("catalog", "build"): "may not build dataset:",
    }  # fmt: skip
    before = len(events(rt, limit=10_000))
    for args, reason in refusals.items():
        code, output = govlake(*args)
        assert code == 1 and reason in output, (args, output)
        assert "Traceback" not in output
    denied = [e for e in _new_events(rt, before) if e.action == "access.denied"]
    assert len(denied) == len(refusals) and {e.principal for e in denied} == {"hr.analyst"}
    assert Lakehouse(project.lakehouse).table("bronze.enterprise_registry").version() == 0
    sign_in(project.conf_dir, "auditor", "auditor")
    code, output = govlake("tables")
    assert code == 1 and "an auditor reads the audit and nothing else" in output
    runner.invoke(app, ["logout", *conf])
    for args in refusals:
        code, output = govlake(*args)
        assert code == 1 and "not logged in: run govlake login" in output


def test_sql_reads_are_audited_and_reach_only_the_tables_named(
    project: ProjectConfig, registry_db: Path
) -> None:
    runner = CliRunner()
    conf = ["--conf", str(project.conf_dir)]
    assert runner.invoke(app, ["run", "market_registry_ingest", *conf]).exit_code == 0
    rt = Runtime.load(project.conf_dir)
    before = len(events(rt, limit=10_000))
    done = runner.invoke(app, ["sql", "SELECT count(*) AS n FROM bronze.enterprise_registry",
                               "--format", "csv", *conf])  # fmt: skip
    assert done.exit_code == 0 and done.stdout == '"n"\n300\n'
    (read,) = _new_events(rt, before)
    assert (read.action, read.principal, read.object, read.outcome) == (
        "data.read",
        "engineer",
        "dataset:bronze.enterprise_registry",
        "success",
    )
    assert read.details["rows"] == 1 and len(read.details["sql_sha256"]) == 64
    # a table the statement does not name is not in the sandbox at all
    hidden = runner.invoke(app, ["sql", "SELECT * FROM duckdb_views() WHERE NOT internal", *conf])
    assert hidden.exit_code == 0, hidden.output
    assert "enterprise_registry" not in hidden.stdout


def _new_events(rt: Runtime, before: int) -> list[AuditEvent]:
    """The audit events after the first ``before``, newest first."""
    every = events(rt, limit=10_000)
    return every[: len(every) - before]


def test_an_unexpected_failure_is_one_line_and_debug_shows_where(
    project: ProjectConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jobs.query

    def broken(*args: object) -> set[str]:
        raise RuntimeError("the parser broke\nand said more")

    monkeypatch.setattr(jobs.query, "tables_named", broken)
    conf = ["--conf", str(project.conf_dir)]
    done = CliRunner().invoke(app, ["sql", "SELECT 1", *conf])
    assert done.exit_code == 1
    assert done.stderr == (
        "error: RuntimeError: the parser broke (govlake --debug sql shows where)\n"
    )
    debugged = CliRunner().invoke(app, ["--debug", "sql", "SELECT 1", *conf])
    assert isinstance(debugged.exception, RuntimeError)
    monkeypatch.delenv("GOVLAKE_DEBUG")


def test_a_platform_db_that_is_no_database_is_named(
    project: ProjectConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = project.home
    home.mkdir(parents=True, exist_ok=True)
    (home / "platform.db").write_text("not a database")
    done = CliRunner().invoke(app, ["sql", "SELECT 1", "--conf", str(project.conf_dir)])
    assert done.exit_code == 1
    assert done.stderr.startswith("error: platform database sqlite:///") and (
        "platform.db cannot be opened: file is not a database\n" in done.stderr
    )
    assert len(done.stderr.splitlines()) == 1


def test_files_are_owner_only_and_the_doctor_says_so(
    project: ProjectConfig, registry_db: Path, sign_in: Callable[..., Principal]
) -> None:
    import os
    import stat

    runner = CliRunner()
    conf = ["--conf", str(project.conf_dir)]
    for path in [project.home, *project.home.rglob("*")]:  # made by the fixtures, not govlake
        path.chmod(stat.S_IMODE(path.stat().st_mode) & 0o700)
    assert runner.invoke(app, ["run", "market_registry_ingest", *conf]).exit_code == 0
    lake = Path(Lakehouse(project.lakehouse).uri("bronze.enterprise_registry"))
    made = [p for p in lake.rglob("*")]
    assert made and all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in made)
    refused = runner.invoke(app, ["doctor", *conf])  # an engineer administers nothing
    assert refused.exit_code == 1 and "engineer may not administer organisation:platform" in (
        refused.output
    )
    sign_in(project.conf_dir, "admin")
    done = runner.invoke(app, ["doctor", *conf])
    assert "FAIL" not in done.output.replace("key for audit checkpoints", ""), done.output
    assert f"ok   permissions {project.lakehouse.root}: owner only" in done.output
    assert "ok   audit ledger:" in done.output and "events verify" in done.output
    parquet = next(lake.glob("*.parquet"))
    os.chmod(parquet, 0o644)
    opened = runner.invoke(app, ["doctor", *conf])
    assert opened.exit_code == 1
    opened_line = f"FAIL permissions {project.lakehouse.root}: 1 path(s) open to others"
    assert f"{opened_line}, e.g. {parquet} (0644)" in opened.output
