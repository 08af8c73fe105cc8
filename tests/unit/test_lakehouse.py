"""Lakehouse writes: each mode, lineage, commit metadata, idempotence and crash safety."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from govlake.config.models import LakehouseConfig
from govlake.errors import UnknownDatasetError
from govlake.lakehouse import LINEAGE_COLUMNS, CollectedFile, Commit, Lakehouse

pytestmark = pytest.mark.unit
REF = "silver.people"


@pytest.fixture
def lake(tmp_path: Path) -> Lakehouse:
    return Lakehouse(LakehouseConfig(root=str(tmp_path / "lake")))


def _commit(batch: str, cursor: dict[str, str] | None = None) -> Commit:
    return Commit(pipeline="p", run_id=f"run-{batch}", batch_id=batch, source="test", cursor=cursor)


def _rows(ids: list[int], names: list[str], day: str = "2024-01-01") -> pa.Table:
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "name": pa.array(names, pa.string()),
            "day": pa.array([date.fromisoformat(day)] * len(ids), pa.date32()),
        }
    )


def _content(lake: Lakehouse, ref: str = REF) -> list[tuple[object, ...]]:
    table = lake.read(ref).drop_columns(list(LINEAGE_COLUMNS))
    return sorted(tuple(r.values()) for r in table.to_pylist())


def test_append_adds_lineage_and_commit_metadata(lake: Lakehouse) -> None:
    result = lake.write(
        REF,
        _rows([1, 2], ["a", "b"]),
        _commit("b1", {"column": "id", "type": "int", "value": "2"}),
        mode="append",
    )
    assert (result.status, result.rows, result.version) == ("committed", 2, 0)
    table = lake.read(REF)
    assert set(table.column("_batch_id").to_pylist()) == {"b1"}
    assert set(table.column("_source").to_pylist()) == {"test"}
    assert table.schema.field("_ingested_at").type == pa.timestamp("us", tz="UTC")
    history = DeltaTable(lake.uri(REF)).history(1)[0]
    assert history["govlake.pipeline"] == "p" and history["govlake.run_id"] == "run-b1"
    assert lake.last_cursor(REF) == {"column": "id", "type": "int", "value": "2"}


def test_same_batch_twice_adds_nothing(lake: Lakehouse) -> None:
    lake.write(REF, _rows([1], ["a"]), _commit("b1"), mode="append")
    again = lake.write(REF, _rows([1], ["a"]), _commit("b1"), mode="append")
    assert again.status == "already_committed"
    assert lake.version(REF) == 0
    assert _content(lake) == [(1, "a", date(2024, 1, 1))]
    assert lake.is_committed(REF, "b1") and not lake.is_committed(REF, "b2")


def test_overwrite_replaces_everything(lake: Lakehouse) -> None:
    lake.write(REF, _rows([1, 2], ["a", "b"]), _commit("b1"), mode="append")
    lake.write(REF, _rows([3], ["c"]), _commit("b2"), mode="overwrite")
    assert _content(lake) == [(3, "c", date(2024, 1, 1))]


def test_overwrite_partition_replaces_one_partition(lake: Lakehouse) -> None:
    lake.write(
        REF, _rows([1], ["a"], "2024-01-01"), _commit("b1"), mode="append", partition_by=["day"]
    )
    lake.write(REF, _rows([2], ["b"], "2024-01-02"), _commit("b2"), mode="append")
    lake.write(
        REF,
        _rows([9], ["z"], "2024-01-02"),
        _commit("b3"),
        mode="overwrite_partition",
        predicate="day = '2024-01-02'",
    )
    assert _content(lake) == [(1, "a", date(2024, 1, 1)), (9, "z", date(2024, 1, 2))]
    day_one = lake.dataset(REF).to_table(filter=pa.compute.field("day") == date(2024, 1, 1))
    assert day_one.column("id").to_pylist() == [1]


def test_merge_upserts_on_keys_and_respects_latest_by(lake: Lakehouse) -> None:
    def versioned(ids: list[int], names: list[str], seq: list[int]) -> pa.Table:
        return pa.table(
            {"id": pa.array(ids, pa.int64()), "name": names, "seq": pa.array(seq, pa.int64())}
        )

    lake.write(REF, versioned([1, 2], ["a", "b"], [5, 5]), _commit("b1"), mode="merge", keys=["id"])
    lake.write(
        REF,
        versioned([2, 3, 1], ["B", "c", "stale"], [6, 6, 4]),
        _commit("b2"),
        mode="merge",
        keys=["id"],
        update_condition='s."seq" >= t."seq"',
    )
    assert _content(lake) == [(1, "a", 5), (2, "B", 6), (3, "c", 6)]


def test_empty_incremental_write_commits_nothing(lake: Lakehouse) -> None:
    lake.write(REF, _rows([1], ["a"]), _commit("b1"), mode="append")
    empty = lake.write(REF, _rows([], []), _commit("b2"), mode="merge", keys=["id"])
    assert (empty.status, lake.version(REF)) == ("no_rows", 0)
    recorded = lake.write(
        REF, _rows([], []), _commit("b3"), mode="merge", keys=["id"], commit_empty=True
    )
    assert (recorded.status, recorded.version) == ("committed", 1)
    assert lake.is_committed(REF, "b3")


def test_crash_mid_stream_leaves_the_table_unchanged_and_rerun_loads_once(lake: Lakehouse) -> None:
    lake.write(REF, _rows([1], ["a"]), _commit("b1"), mode="append")
    schema = _rows([], []).schema

    def failing() -> Iterator[pa.RecordBatch]:
        yield _rows([2, 3], ["b", "c"]).to_batches()[0]
        raise ConnectionError("source went away")

    reader = pa.RecordBatchReader.from_batches(schema, failing())
    with pytest.raises(ConnectionError, match="^source went away$"):
        lake.write(REF, reader, _commit("b2"), mode="append")
    assert lake.version(REF) == 0
    assert _content(lake) == [(1, "a", date(2024, 1, 1))]

    lake.write(REF, _rows([2, 3], ["b", "c"]), _commit("b2"), mode="append")
    lake.write(REF, _rows([2, 3], ["b", "c"]), _commit("b2"), mode="append")
    assert [r[0] for r in _content(lake)] == [1, 2, 3]


def test_changes_since_skips_compactions_and_sees_updates(lake: Lakehouse) -> None:
    lake.write(REF, _rows([1], ["a"]), _commit("b1"), mode="append")
    lake.write(REF, _rows([2], ["b"]), _commit("b2"), mode="append")
    changes, version = lake.changes_since(REF, 0)
    assert (version, changes.column("id").to_pylist()) == (1, [2])
    assert "_change_type" not in changes.column_names
    lake.optimize(REF)
    assert lake.changes_since(REF, 1)[0].num_rows == 0
    lake.write(REF, _rows([2, 3], ["B", "c"]), _commit("b3"), mode="merge", keys=["id"])
    changes, version = lake.changes_since(REF, 2)
    assert version == 3
    assert sorted(changes.select(["id", "name"]).to_pylist(), key=str) == [
        {"id": 2, "name": "B"},
        {"id": 3, "name": "c"},
    ]
    everything, _ = lake.changes_since(REF, None)
    assert sorted(everything.column("id").to_pylist()) == [1, 2, 3]


def test_maintenance_keeps_rows(lake: Lakehouse) -> None:
    for i in range(4):
        lake.write(REF, _rows([i], [str(i)]), _commit(f"b{i}"), mode="append")
    metrics = lake.optimize(REF)
    assert metrics["numFilesRemoved"] == 4 and metrics["numFilesAdded"] == 1
    assert [r[0] for r in _content(lake)] == [0, 1, 2, 3]
    assert lake.describe(REF).files == 1


def test_unknown_table_is_named(lake: Lakehouse) -> None:
    with pytest.raises(UnknownDatasetError, match="table silver.nothing does not exist yet"):
        lake.table("silver.nothing")
    with pytest.raises(UnknownDatasetError, match="not a table reference"):
        lake.uri("platinum.x")


def test_file_register_returns_typed_entries_newest_first(lake: Lakehouse) -> None:
    first = CollectedFile("in/a.csv", 10, 1_700_000_000, "ab" * 32)
    load = Commit("p", "r1", "b-a", "test", file=first)
    lake.write(REF, _rows([1], ["a"]), load, mode="append")
    copy = CollectedFile("in/b.csv", 10, 1_700_000_001, "ab" * 32, duplicate_of=first.path)
    lake.mark(REF, Commit("p", "r2", "b-b", "test", file=copy))
    assert lake.collected_files(REF) == [copy, first]
    stored = DeltaTable(lake.uri(REF)).history()[-1]["govlake.file"]
    assert "duplicate_of" not in stored
