"""``govlake run`` of every pipeline when some sources are down: the rest still run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apps.cli.main import app
from apps.demo import source_path
from govlake.config.loader import load_config
from govlake.principal import Principal
from subjects.enterprise_registry.seed import seed

pytestmark = pytest.mark.integration


def test_a_failed_pipeline_skips_its_consumers_and_not_the_others(
    full_conf_dir: Path, sign_in: Callable[..., Principal], monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in(full_conf_dir, "engineer", "data_engineer", org="jinan")
    seed(source_path(load_config(full_conf_dir)), rows=300, seed_value=7)
    monkeypatch.setenv("GOVLAKE_PENALTY_SITE", "http://127.0.0.1:1")  # nothing listens
    monkeypatch.setenv("AIRFLOW_CONN_HR_DROP", "ftp://govlake:pw@127.0.0.1:1")

    done = CliRunner().invoke(app, ["run", "--conf", str(full_conf_dir)])

    assert done.exit_code == 1
    assert "bronze.enterprise_registry: committed, 300 rows" in done.stdout
    assert "gold.enterprise_directory: committed" in done.stdout  # independent of the others
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr
    assert [line.split(":")[:2] for line in lines[:-1]] == [
        ["error", " penalty_notices_crawl"],
        ["skipped", " penalty_notices_refine"],
        ["error", " social_insurance_ingest"],
        ["skipped", " social_insurance_refine"],
        ["skipped", " credit_profile_publish"],
    ]
    assert "skipped: penalty_notices_refine: it reads what penalty_notices_crawl builds" in lines[1]
    assert lines[-1] == (
        "5 of 7 pipeline(s) did not finish: penalty_notices_crawl, penalty_notices_refine, "
        "social_insurance_ingest, social_insurance_refine, credit_profile_publish"
    )
