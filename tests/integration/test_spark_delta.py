"""Spark reads and writes Delta tables through govdelta; delta-rs sees the same rows both ways."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from pyspark.sql.datasource import EqualTo

from govlake.config.models import LakehouseConfig
from govlake.lakehouse import LINEAGE_COLUMNS, Commit, Lakehouse
from jobs.spark.delta_source import GovDeltaReader

pytestmark = pytest.mark.integration
SCHEMA = "id long, name string, day date, amount decimal(18,2), at timestamp"


def _rows() -> list[tuple[object, ...]]:
    at = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
    return [
        (1, "企业甲", date(2024, 1, 1), Decimal("12345678901234.56"), at),
        (2, "企业乙", date(2024, 1, 2), None, None),
        (3, None, date(2024, 1, 2), Decimal("0.01"), at),
    ]


def _files(table: Path) -> set[str]:
    return {str(p.relative_to(table)) for p in table.rglob("*.parquet")}


def test_spark_writes_what_delta_rs_reads(spark, tmp_path: Path) -> None:  # noqa: ANN001
    target = tmp_path / "t"
    frame = spark.createDataFrame(_rows(), SCHEMA)
    frame.write.format("govdelta").option("partitionBy", "day").mode("append").save(str(target))
    table = DeltaTable(str(target))
    assert table.metadata().partition_columns == ["day"]
    got = sorted(pa.table(table.to_pyarrow_table()).to_pylist(), key=lambda r: r["id"])
    assert [(r["id"], r["name"], r["day"], r["amount"], r["at"]) for r in got] == _rows()
    assert table.history(1)[0]["govlake.pipeline"] == "spark"


def test_spark_reads_what_the_lakehouse_wrote(spark, tmp_path: Path) -> None:  # noqa: ANN001
    lake = Lakehouse(LakehouseConfig(root=str(tmp_path)))
    data = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "name": ["甲", None],
            "amount": pa.array([Decimal("1.50"), None], pa.decimal128(18, 2)),
        }
    )
    lake.write("silver.t", data, Commit("p", "r", "b1", "test"), mode="append")
    back = spark.read.format("govdelta").load(lake.uri("silver.t"))
    assert back.columns == ["id", "name", "amount", *LINEAGE_COLUMNS]
    assert sorted((r.id, r.name, r.amount, r._batch_id) for r in back.collect()) == [
        (1, "甲", Decimal("1.50"), "b1"),
        (2, None, None, "b1"),
    ]


def test_batch_id_commits_once_and_leaves_no_files(spark, tmp_path: Path) -> None:  # noqa: ANN001
    target = tmp_path / "t"
    frame = spark.createDataFrame(_rows(), SCHEMA)
    for _ in range(2):
        frame.write.format("govdelta").option("batchId", "b-1").mode("append").save(str(target))
    table = DeltaTable(str(target))
    assert table.version() == 0
    assert table.count() == 3
    assert _files(target) == {Path(p).name for p in table.file_uris()}


def test_overwrite_by_partition_and_time_travel(spark, tmp_path: Path) -> None:  # noqa: ANN001
    target = str(tmp_path / "t")
    spark.createDataFrame(_rows(), SCHEMA).write.format("govdelta").option(
        "partitionBy", "day"
    ).mode("append").save(target)
    replacement = spark.createDataFrame([(9, "新", date(2024, 1, 2), None, None)], SCHEMA)
    replacement.write.format("govdelta").option("replaceWhere", "day = '2024-01-02'").mode(
        "overwrite"
    ).save(target)
    now = spark.read.format("govdelta").load(target)
    assert sorted(r.id for r in now.collect()) == [1, 9]
    before = spark.read.format("govdelta").option("versionAsOf", 0).load(target)
    assert sorted(r.id for r in before.collect()) == [1, 2, 3]
    with pytest.raises(Exception, match="replaceWhere supports only partition_column"):
        replacement.write.format("govdelta").option("replaceWhere", "id > 3").mode(
            "overwrite"
        ).save(target)


def test_partition_pruning_plans_only_matching_files(spark, tmp_path: Path) -> None:  # noqa: ANN001
    target = str(tmp_path / "t")
    spark.createDataFrame(_rows(), SCHEMA).write.format("govdelta").option(
        "partitionBy", "day"
    ).mode("append").save(target)
    reader = GovDeltaReader(target, {}, spark.read.format("govdelta").load(target).schema)
    remaining = list(reader.pushFilters([EqualTo(("day",), date(2024, 1, 1))]))
    assert len(remaining) == 1, "Spark still re-checks the filter"
    (only,) = reader.partitions()
    assert len(only.files) == 1
    assert only.files[0][0].startswith("day=2024-01-01/")
    filtered = spark.read.format("govdelta").load(target).filter("day = date'2024-01-01'")
    assert [r.id for r in filtered.collect()] == [1]


def test_failed_job_commits_nothing_and_cleans_up(spark, tmp_path: Path) -> None:  # noqa: ANN001
    target = tmp_path / "t"
    spark.createDataFrame(_rows(), SCHEMA).write.format("govdelta").mode("append").save(str(target))
    before = _files(target)

    def explode(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if 2 in batch.column("id").to_pylist():
                raise RuntimeError("executor lost")
            yield batch

    frame = spark.createDataFrame(_rows(), SCHEMA).repartition(3)
    failing = frame.mapInArrow(explode, frame.schema)
    with pytest.raises(Exception, match="executor lost"):
        failing.write.format("govdelta").mode("append").save(str(target))
    table = DeltaTable(str(target))
    assert table.version() == 0
    assert {Path(p).name for p in table.file_uris()} == before
    # A sibling task that finishes after the job has failed sends no message to abort, so its
    # file may stay behind: it is never in the log, and a full vacuum (as `govlake maintain`
    # runs) removes it once written.
    deadline = time.monotonic() + 60
    while True:
        table.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False, full=True)
        if _files(target) == before or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert _files(target) == before


def test_missing_table_is_named(spark, tmp_path: Path) -> None:  # noqa: ANN001
    with pytest.raises(Exception, match=f"no Delta table at {tmp_path}/absent"):
        spark.read.format("govdelta").load(str(tmp_path / "absent")).collect()
