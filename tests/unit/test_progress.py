"""Long row streams report rows, rate and time left; short ones stay silent."""

from __future__ import annotations

import pyarrow as pa
import pytest

from govlake.progress import INTERVAL, line, tracked

pytestmark = pytest.mark.unit


def _batches(n: int) -> list[pa.RecordBatch]:
    return [pa.record_batch({"x": list(range(1000))}) for _ in range(n)]


def test_a_stream_longer_than_the_interval_writes_lines_and_a_last_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(INTERVAL, "0")
    assert sum(b.num_rows for b in tracked(_batches(3), "bronze.t: writing")) == 3000
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 4  # one per batch, then the end
    assert lines[0].startswith("progress: bronze.t: writing: 1,000 rows, ")
    assert lines[-1].startswith("progress: bronze.t: writing: 3,000 rows, ")
    assert lines[-1].endswith(" s") and "rows/s" in lines[-1]


def test_a_short_stream_says_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(INTERVAL, "60")
    assert len(list(tracked(_batches(3), "bronze.t: writing"))) == 3
    assert capsys.readouterr().err == ""


def test_a_known_total_gives_the_share_and_the_time_left() -> None:
    assert line("exchange x", 250_000, 10.0, 1_000_000) == (
        "progress: exchange x: 250,000 rows of 1,000,000 (25%), 30 s left, 25,000 rows/s, 10 s"
    )
