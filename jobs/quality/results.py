"""Validation results in the ``platform.quality_results`` Delta table, and quality scores.

A build's validation travels in the Delta commit of its rows (``govlake.quality``) and is then
recorded here under a batch id made of the table and version, so :func:`recover` can record,
exactly once, what a crash between the two left out.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

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


def summary(validation: Validation, *, policy: str, action: str, run_id: str) -> dict[str, Any]:
    """A validation as JSON-ready values: what the results table records of it."""
    return {
        "suite": validation.suite,
        "score": validation.score,
        "seconds": validation.seconds,
        "policy": policy,
        "action": action,
        "run_id": run_id,
        "validated_at": datetime.now(UTC).isoformat(),
        "outcomes": [
            {
                "expectation": o.expectation,
                "column": o.column,
                "success": o.success,
                "observed_value": o.observed,
                "unexpected_count": o.unexpected_count,
            }
            for o in validation.outcomes
        ],
    }


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
    """Append one row per expectation of ``validation`` (a blocked build or an on-demand check)."""
    done = summary(validation, policy=policy, action=action, run_id=run_id)
    batch_id = f"quality:{ref}@{version}:{run_id}:{done['validated_at']}"
    record_summary(lake, ref, version, done, pipeline=pipeline, batch_id=batch_id)


def build_batch(ref: str, version: int) -> str:
    """The batch id of the validation of the build that committed ``ref`` at ``version``."""
    return f"quality:{ref}@{version}:build"


def record_summary(
    lake: Lakehouse,
    ref: str,
    version: int | None,
    done: dict[str, Any],
    *,
    pipeline: str,
    batch_id: str,
) -> None:
    """Append the rows of a validation :func:`summary`, once per ``batch_id``."""
    fixed = {k: done[k] for k in ("suite", "score", "seconds", "policy", "action", "run_id")}
    at = datetime.fromisoformat(done["validated_at"])
    rows = [
        {"dataset": ref, "version": version, **outcome, **fixed, "validated_at": at}
        for outcome in done["outcomes"]
    ]
    commit = Commit(pipeline=pipeline, run_id=done["run_id"], source=ref, batch_id=batch_id)
    lake.write(RESULTS, pa.Table.from_pylist(rows, schema=SCHEMA), commit, mode="append")


def recover(lake: Lakehouse, ref: str, *, pipeline: str) -> list[int]:
    """Record the validations the table's recent commits carry and the results lack.

    A build commits its validation in the commit metadata of its rows, then records it here;
    a crash between the two leaves the first only. Returns the versions recovered.
    """
    recovered = []
    for version, raw in lake.committed_metadata(ref, "quality"):
        batch_id = build_batch(ref, version)
        if not lake.is_committed(RESULTS, batch_id):
            record_summary(
                lake, ref, version, json.loads(raw), pipeline=pipeline, batch_id=batch_id
            )
            recovered.append(version)
    return recovered


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
