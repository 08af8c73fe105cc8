"""The govlake command without Airflow: run, tables, maintain, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from apps.cli.main import app
from govlake.config.project import ProjectConfig
from govlake.lakehouse import Lakehouse

pytestmark = pytest.mark.integration


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
        "error: source market_registry: cannot connect to mysql+pymysql://etl:***@127.0.0.1:1"
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
    assert flat.exit_code == 0 and flat.stdout == '{"l": [1, 2]}\n'
