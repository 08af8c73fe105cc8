"""``engine: spark`` runs the same transforms on Spark executors and gives the same tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from govlake.config.loader import load_config
from govlake.runtime import Runtime
from jobs.runner import run_pipeline
from tests.conftest import collect_scenario, derived_tables, refining_pipelines

pytestmark = pytest.mark.integration
ROWS = 400


def _derive(
    conf: Path, home: Path, engine: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, list[str]]:
    """Silver and gold tables and their quarantines, built by ``engine`` from ``home``'s bronze."""
    monkeypatch.setenv("GOVLAKE_HOME", str(home))
    for datasets in (conf / "datasets").glob("*.yaml"):
        text = datasets.read_text(encoding="utf-8")
        datasets.write_text(text.replace("engine: spark", f"engine: {engine}"), encoding="utf-8")
    project = load_config(conf)
    assert {d.engine for d in project.datasets.values() if d.zone != "bronze"} == {engine}
    for name in refining_pipelines(conf):
        run_pipeline(Runtime(project), name)
    return derived_tables(conf)


def test_spark_engine_equals_arrow_engine(
    full_conf_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bronze is collected once; silver and gold are then built by each engine from it."""
    collect_scenario(full_conf_dir, ROWS)
    home = load_config(full_conf_dir).home
    arrow_home, arrow_conf = tmp_path / "arrow_home", tmp_path / "arrow_conf"
    shutil.copytree(home, arrow_home)
    shutil.copytree(full_conf_dir, arrow_conf)

    on_spark = _derive(full_conf_dir, home, "spark", monkeypatch)
    on_arrow = _derive(arrow_conf, arrow_home, "arrow", monkeypatch)
    assert on_spark == on_arrow
    assert set(on_spark) >= {
        "silver.enterprise_registry",
        "silver.social_insurance_payments",
        "silver.penalty_notices",
        "gold.enterprise_directory",
        "gold.enterprise_credit_profile",
        "silver.enterprise_registry__quarantine",
    }
    assert len(on_spark["gold.enterprise_credit_profile"]) > 300
    assert any("'penalty_count': 1" in r for r in on_spark["gold.enterprise_credit_profile"])
