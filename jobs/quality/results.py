"""Validation results in the ``platform.quality_results`` Delta table, and quality scores."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from govlake.lakehouse import Commit, Lakehouse
from jobs.quality.suites import Validation

RESULTS = "platform.quality_results"
SCHEMA = pa.schema(
    [
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("version", pa.int64()),
        pa.field("suite", pa.string(), nullable=False),
        pa.field("expectation", pa.string(), nullable=False),
        pa.field("column", pa.string()),
        pa.field("success", pa.bool_(), nullable=False),
        pa.field("observed_value", pa.string()),
        pa.field("unexpected_count", pa.int64(), nullable=False),
        pa.field("policy", pa.string(), nullable=False),
        pa.field("action", pa.string(), nullable=False),
        pa.field("score", pa.float64(), nullable=False),
        pa.field("seconds", pa.float64(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("validated_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


def record(
    lake: Lakehouse,
    ref: str,
    version: int | None,
    validation: Validation,
    *,
    policy: str,
    action: str,
    pipeline: str,
    run_id: str,
) -> None:
    """Append one row per expectation of ``validation``."""
    now = datetime.now(UTC)
    rows = [
        {
            "dataset": ref,
            "version": version,
            "suite": validation.suite,
            "expectation": o.expectation,
            "column": o.column,
            "success": o.success,
            "observed_value": o.observed,
            "unexpected_count": o.unexpected_count,
            "policy": policy,
            "action": action,
            "score": validation.score,
            "seconds": validation.seconds,
            "run_id": run_id,
            "validated_at": now,
        }
        for o in validation.outcomes
    ]
    commit = Commit(
        pipeline=pipeline,
        run_id=run_id,
        source=ref,
        batch_id=f"quality:{ref}@{version}:{run_id}:{now.isoformat()}",
    )
    lake.write(RESULTS, pa.Table.from_pylist(rows, schema=SCHEMA), commit, mode="append")


def latest(lake: Lakehouse, ref: str | None = None) -> pa.Table:
    """The rows of each dataset's latest validation run (of ``ref`` only, if given)."""
    if not lake.exists(RESULTS):
        return SCHEMA.empty_table()
    table = lake.read(RESULTS, columns=SCHEMA.names)
    if ref is not None:
        table = table.filter(pc.field("dataset") == ref)
    if table.num_rows == 0:
        return table
    last = table.group_by("dataset").aggregate([("validated_at", "max")])
    joined = table.join(last, keys=["dataset"])
    return (
        joined.filter(pc.equal(joined["validated_at"], joined["validated_at_max"]))
        .drop_columns(["validated_at_max"])
        .sort_by([("dataset", "ascending")])
    )


def latest_score(lake: Lakehouse, ref: str) -> float | None:
    """The quality score of the dataset's latest validation, for the catalog."""
    rows = latest(lake, ref)
    return float(rows.column("score")[0].as_py()) if rows.num_rows else None
