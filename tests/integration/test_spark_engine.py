"""``engine: spark`` runs the same transforms on Spark executors and gives the same tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from govlake.config import load_config
from govlake.lakehouse import LINEAGE_COLUMNS, Lakehouse
from govlake.scenario import seed
from jobs.runner import run_pipeline

pytestmark = pytest.mark.integration
TABLES = (
    "silver.enterprise_registry",
    "silver.enterprise_registry__quarantine",
    "gold.enterprise_directory",
)


def _tables(conf: Path, home: Path, engine: str, monkeypatch: pytest.MonkeyPatch) -> dict:  # type: ignore[type-arg]
    monkeypatch.setenv("GOVLAKE_HOME", str(home))
    datasets = conf / "datasets" / "enterprise_registry.yaml"
    text = datasets.read_text(encoding="utf-8")
    datasets.write_text(text.replace("engine: spark", f"engine: {engine}"), encoding="utf-8")
    project = load_config(conf)
    assert {d.engine for d in project.datasets.values() if d.zone != "bronze"} == {engine}
    seed(home / "sources" / "market_registry.db", rows=400, seed_value=11)
    for pipeline in project.pipeline_order():
        run_pipeline(project, pipeline.name)
    lake = Lakehouse(project.lakehouse)
    found = {}
    for ref in TABLES:
        table = lake.read(ref)
        table = table.drop_columns(
            [c for c in (*LINEAGE_COLUMNS, "_stage") if c in table.column_names]
        )
        found[ref] = sorted(map(str, table.to_pylist()))
    return found


def test_spark_engine_equals_arrow_engine(
    conf_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arrow_conf = tmp_path / "arrow_conf"
    shutil.copytree(conf_dir, arrow_conf)
    on_spark = _tables(conf_dir, tmp_path / "spark", "spark", monkeypatch)
    on_arrow = _tables(arrow_conf, tmp_path / "arrow", "arrow", monkeypatch)
    assert on_spark == on_arrow
    assert len(on_spark["silver.enterprise_registry"]) > 300
