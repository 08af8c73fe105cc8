"""The registry scenario end to end without Airflow: zones, quarantine, increments, re-runs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow.compute as pc
import pytest
import sqlalchemy as sa

from govlake.config.project import ProjectConfig
from govlake.lakehouse import LINEAGE_COLUMNS, Lakehouse
from govlake.runtime import Runtime
from jobs.maintenance import maintain
from jobs.runner import run_pipeline
from jobs.standardise import uscc_is_valid
from subjects.enterprise_registry.seed import append_updates, enterprise
from subjects.enterprise_registry.transform import standardise

pytestmark = pytest.mark.integration
SILVER, GOLD, BRONZE = (
    "silver.enterprise_registry",
    "gold.enterprise_directory",
    "bronze.enterprise_registry",
)
QUARANTINE = SILVER + "__quarantine"


def _run_all(project: ProjectConfig) -> None:
    for pipeline in project.pipeline_order():
        run_pipeline(Runtime(project), pipeline.name)


def _counts(lake: Lakehouse) -> dict[str, int]:
    return {ref: lake.read(ref).num_rows for ref in (BRONZE, SILVER, QUARANTINE, GOLD)}


def test_zones_account_for_every_row(project: ProjectConfig, registry_db: Path) -> None:
    _run_all(project)
    lake = Lakehouse(project.lakehouse)
    bronze, silver, quarantine = lake.read(BRONZE), lake.read(SILVER), lake.read(QUARANTINE)
    assert bronze.num_rows == 300
    distinct_clean = len(set(silver.column("uscc").to_pylist()))
    assert distinct_clean == silver.num_rows
    assert pc.all(uscc_is_valid(silver.column("uscc"))).as_py()
    assert quarantine.num_rows > 0
    reasons = quarantine.column("_reason").to_pylist()
    assert all(
        r.split(":")[0] in {"uscc", "established", "registered_capital", "status", "name"}
        for r in reasons
    )
    superseded = bronze.num_rows - quarantine.num_rows - silver.num_rows
    assert 0 < superseded < 30, "superseded versions are the only rows not in silver or quarantine"
    assert lake.read(GOLD).num_rows == silver.num_rows
    assert set(lake.read(GOLD).column("region_code").to_pylist()) <= {
        c[2:8] for c in silver.column("uscc").to_pylist()
    }


def test_rerun_changes_nothing(project: ProjectConfig, registry_db: Path) -> None:
    _run_all(project)
    lake = Lakehouse(project.lakehouse)
    before = ({ref: lake.version(ref) for ref in (BRONZE, SILVER, QUARANTINE, GOLD)}, _counts(lake))
    _run_all(project)
    after = ({ref: lake.version(ref) for ref in (BRONZE, SILVER, QUARANTINE, GOLD)}, _counts(lake))
    assert after == before


def test_increments_flow_through_and_newest_wins(project: ProjectConfig, registry_db: Path) -> None:
    _run_all(project)
    lake = Lakehouse(project.lakehouse)
    before = _counts(lake)
    target = lake.read(SILVER).sort_by("uscc").slice(0, 1).to_pylist()[0]
    engine = sa.create_engine(f"sqlite:///{registry_db}")
    with engine.begin() as conn:
        conn.execute(
            enterprise.insert(),
            [
                {
                    "uscc": target["uscc"],
                    "name": target["name"],
                    "registered_capital": "100万元",
                    "established": "2001年1月1日",
                    "status": "注销",
                    "updated_at": datetime(2030, 1, 1),
                }
            ],
        )
    engine.dispose()
    append_updates(registry_db, rows=50, seed_value=99)
    _run_all(project)
    after = _counts(lake)
    assert after[BRONZE] == before[BRONZE] + 51
    gold = lake.read(GOLD).filter(pc.field("uscc") == target["uscc"]).to_pylist()
    assert [(g["status"], str(g["registered_capital_10k_yuan"])) for g in gold] == [
        ("cancelled", "100.000000")
    ]
    assert after[SILVER] + after[QUARANTINE] > before[SILVER] + before[QUARANTINE]
    assert after[GOLD] == after[SILVER]


def test_crash_between_quarantine_and_rows_loses_and_repeats_nothing(
    project: ProjectConfig, registry_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Lakehouse.write

    def crash_on_silver(self: Lakehouse, ref: str, *args: object, **kwargs: object) -> object:
        if ref == SILVER:
            raise RuntimeError("worker lost")
        return original(self, ref, *args, **kwargs)  # type: ignore[arg-type]

    run_pipeline(Runtime(project), "market_registry_ingest")
    monkeypatch.setattr(Lakehouse, "write", crash_on_silver)
    with pytest.raises(RuntimeError, match="worker lost"):
        run_pipeline(Runtime(project), "enterprise_registry_refine")
    lake = Lakehouse(project.lakehouse)
    assert lake.exists(QUARANTINE) and not lake.exists(SILVER)
    monkeypatch.setattr(Lakehouse, "write", original)
    run_pipeline(Runtime(project), "enterprise_registry_refine")
    run_pipeline(Runtime(project), "enterprise_registry_refine")
    bronze = lake.read(BRONZE).drop_columns(list(LINEAGE_COLUMNS))
    expected = standardise({BRONZE: bronze})
    assert expected.rejects is not None
    assert lake.read(QUARANTINE).num_rows == expected.rejects.num_rows
    assert lake.read(SILVER).num_rows == expected.rows.num_rows
    assert lake.version(QUARANTINE) == 0, "the quarantine batch was committed exactly once"


def test_maintenance_compacts_every_table_and_keeps_rows(
    project: ProjectConfig, registry_db: Path
) -> None:
    _run_all(project)
    append_updates(registry_db, rows=20, seed_value=5)
    _run_all(project)
    lake = Lakehouse(project.lakehouse)
    before = _counts(lake)
    results = {r.ref: r for r in maintain(Runtime(project))}
    assert set(results) == {BRONZE, SILVER, QUARANTINE, GOLD, "platform.quality_results"}
    assert results[BRONZE].files_removed == 2
    assert results[BRONZE].files_added == 1
    assert _counts(lake) == before
    _run_all(project)
    assert _counts(lake) == before, "compaction is not mistaken for new input"
