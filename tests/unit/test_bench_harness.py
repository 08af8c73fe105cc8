"""The benchmark harness: output digests that ignore order and files, and the child protocol."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from bench.common import delta_digest
from bench.harness import alternate, check_same_content, summarise

pytestmark = pytest.mark.unit


def test_digest_is_the_same_for_the_same_rows_in_any_order_and_files(tmp_path: Path) -> None:
    rows = pa.table({"id": [1, 2, 3], "name": ["一", None, "三"]})
    write_deltalake(str(tmp_path / "one"), rows)
    for part in (rows.slice(2), rows.slice(0, 2).take([1, 0])):  # two commits, other order
        write_deltalake(str(tmp_path / "two"), part, mode="append")
    changed = rows.set_column(1, "name", pa.array(["一", "", "三"]))
    write_deltalake(str(tmp_path / "three"), changed)

    one, two, three = (delta_digest(tmp_path / n, ["id", "name"]) for n in ("one", "two", "three"))
    assert one["rows"] == two["rows"] == 3
    assert one["content"] == two["content"]
    assert three["content"] != one["content"]  # NULL and empty text differ


def test_arms_run_in_their_own_process_and_are_measured() -> None:
    runs = alternate("bench.overheads", ["delta_rs", "govlake_write"], {}, repeat=2)
    assert [r.arm for r in runs] == ["delta_rs", "govlake_write"] * 2
    for run in runs:
        assert 0 < run.result["work_s"] < run.seconds
        assert run.cpu_seconds > 0
        assert 50 < run.peak_rss_mb < 2000
    rows = summarise(runs, reference="delta_rs")
    assert [r["runs"] for r in rows] == [2, 2]
    assert rows[0]["work_vs_delta_rs"] == 1.0


def test_arms_that_disagree_fail_the_scenario() -> None:
    rows = [
        {"arm": "a", "content": "x"},
        {"arm": "b", "content": "y"},
        {"arm": "c", "content": None},
    ]
    with pytest.raises(RuntimeError, match="different rows"):
        check_same_content(rows)
