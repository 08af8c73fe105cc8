"""The registry's silver job on Spark (local mode, every core) against single-node delta-rs.

Both arms run ``jobs.derive`` on the same bronze Delta table: read it, clean and type the rows
(``subjects.enterprise_registry.transform:standardise``), keep the latest row per credit code,
quarantine what fails, merge into silver; only the dataset's ``engine`` differs:
- ``arrow``: the transform in the task's own process, on Arrow;
- ``spark``: the transform on Spark executors (``jobs.spark.transform``), the session's start
  included.
The validation suite is left out here (its cost is the validation scenario's). Both arms'
silver tables must hash the same.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import registry_conf
from bench.harness import serve_arm
from govlake.runtime import Runtime

ARMS = ["arrow", "spark"]
REFERENCE = "arrow"
IMPORTS = {
    "arrow": ["govlake.config", "jobs.derive", "subjects.enterprise_registry.transform"],
    "spark": ["govlake.config", "jobs.derive", "subjects.enterprise_registry.transform",
              "jobs.spark.session", "jobs.spark.transform"],
}  # fmt: skip
BRONZE = "bronze.enterprise_registry"
SILVER = "silver.enterprise_registry"
HASHED = [
    "uscc", "name", "CAST(registered_capital_yuan AS DECIMAL(38,2))", "established_on", "status",
    "updated_at",
]  # fmt: skip


def title(params: dict[str, Any]) -> str:
    """The scenario's heading."""
    memory = params.get("driver_memory")
    spark = f" (Spark driver memory {memory})" if memory else ""
    return f"Silver job, {params['rows']:,} rows: Spark local mode against Arrow{spark}"


@contextmanager
def prepared(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The bronze table, written once in batches, which every arm's lakehouse links to."""
    import pyarrow as pa

    from bench.data import raw_registry
    from govlake.config.models import LakehouseConfig
    from govlake.lakehouse import Commit, Lakehouse

    with tempfile.TemporaryDirectory(prefix="govlake-bench-bronze-") as folder:
        batches = raw_registry(params["rows"])
        first = next(batches)
        reader = pa.RecordBatchReader.from_batches(first.schema, [first, *batches])
        lake = Lakehouse(LakehouseConfig(root=folder))
        lake.write(BRONZE, reader, Commit("bench", "bench", "bronze", "bench"), mode="append")
        yield {**params, "bronze": str(Path(folder) / "bronze")}


def _derive(params: dict[str, Any], work: Path, engine: str) -> dict[str, Any]:
    (work / "lake").mkdir(parents=True)
    (work / "lake" / "bronze").symlink_to(params["bronze"])
    (work / "no_suites").mkdir()
    os.environ["GOVLAKE_EXPECTATIONS"] = str(work / "no_suites")
    os.environ["GOVLAKE_HOME"] = str(work / "home")
    from govlake.config.loader import load_config
    from jobs.derive import derive

    memory = params.get("driver_memory", "2g")
    config = load_config(registry_conf(work, engine=engine, driver_memory=memory, validated=False))
    written = derive(Runtime(config), SILVER, pipeline="bench", run_id="bench")
    if engine == "spark":
        from jobs.spark.session import stop_sessions

        stop_sessions()
    rejected = sum(w.rows for w in written if w.ref.endswith("__quarantine"))
    return {"output": str(work / "lake" / "silver" / "enterprise_registry"), "rejected": rejected}


def arm_arrow(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """``engine: arrow``: the transform in this process."""
    return _derive(params, work, "arrow")


def arm_spark(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """``engine: spark``: the transform on local Spark executors."""
    return _derive(params, work, "spark")


if __name__ == "__main__":
    serve_arm({name: globals()[f"arm_{name}"] for name in ARMS}, IMPORTS)
