"""A receiver's check names the field of a manifest that does not match its file."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from govlake.config.exchange import FileSettings
from govlake.digest import file_sha256
from jobs.exchange import files
from jobs.exchange.receipt import verify

pytestmark = pytest.mark.unit
ROWS = pa.table({"id": pa.array(range(50), pa.int64()), "name": [f"企业{i}" for i in range(50)]})


def _deliver(folder: Path, fmt: str, encoding: str = "utf-8", table: pa.Table = ROWS) -> Path:
    settings = FileSettings(format=fmt, encoding=encoding)
    path = folder / files.file_name("to_dept", None, 3, settings)
    rows = files.write(pa.RecordBatchReader.from_batches(table.schema, table.to_batches()),
                       path, settings)  # fmt: skip
    manifest = files.manifest_for(
        path.name, rows=rows, schema=table.schema, settings=settings, subscription="to_dept",
        dataset="gold.x", batch_id="to_dept@full-3", from_version=None, to_version=3,
        bytes=path.stat().st_size, sha256=file_sha256(path), grant=None, masked=[],
    )  # fmt: skip
    path.with_name(path.name + files.MANIFEST_SUFFIX).write_text(manifest.to_json(), "utf-8")
    return path


def _lie(path: Path, **fields: object) -> None:
    manifest = path.with_name(path.name + files.MANIFEST_SUFFIX)
    stated = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({**stated, **fields}), encoding="utf-8")


@pytest.mark.parametrize(
    ("fmt", "encoding"), [("csv", "utf-8"), ("csv", "gbk"), ("jsonl", "utf-8"),
                          ("parquet", "utf-8"), ("xlsx", "utf-8")],
)  # fmt: skip
def test_an_intact_delivery_verifies(tmp_path: Path, fmt: str, encoding: str) -> None:
    _deliver(tmp_path, fmt, encoding)
    assert verify(tmp_path) == []


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "xlsx"])
def test_a_manifest_lying_about_rows_or_columns_is_caught(tmp_path: Path, fmt: str) -> None:
    path = _deliver(tmp_path, fmt)
    _lie(path, rows=51)
    assert verify(path) == [f"{path}: rows: 50, the manifest says 51"]
    _lie(path, rows=50, columns=[{"name": "id", "type": "int64"}, {"name": "title", "type": "x"}])
    (problem,) = verify(path)
    assert problem.startswith(f"{path}: columns: ['id', 'name'], the manifest says ['id', 'title']")


def test_parquet_types_are_checked_too(tmp_path: Path) -> None:
    path = _deliver(tmp_path, "parquet")
    _lie(path, columns=[{"name": "id", "type": "string"}, {"name": "name", "type": "string"}])
    assert verify(path) == [
        f"{path}: columns: types ['int64', 'string'] differ from the manifest's"
    ]


def test_a_rewritten_file_with_a_recomputed_hash_still_fails_on_its_rows(tmp_path: Path) -> None:
    path = _deliver(tmp_path, "csv")
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-5]), encoding="utf-8")  # five rows dropped
    _lie(path, bytes=path.stat().st_size, sha256=file_sha256(path))
    assert verify(path) == [f"{path}: rows: 45, the manifest says 50"]


def test_size_hash_format_and_name_are_each_named(tmp_path: Path) -> None:
    path = _deliver(tmp_path, "csv")
    data = path.read_bytes()
    path.write_bytes(data.replace(b"1", b"7", 1))
    assert verify(path) == [f"{path}: sha256: differs from the manifest's"]
    path.write_bytes(data + b"\n")
    assert verify(path)[0] == f"{path}: bytes: {len(data) + 1}, the manifest says {len(data)}"
    path.write_bytes(data)
    _lie(path, format="parquet")
    assert verify(path) == [f"{path}: format: 'parquet' does not fit a .csv file"]
    for other in ("../../etc/passwd", "other.csv"):
        _lie(path, format="csv", file=other)
        assert verify(path)[0].endswith(f"file: names {other!r}, not {path.name!r} beside it")


def test_batch_id_and_file_name_must_be_those_of_the_stated_versions(tmp_path: Path) -> None:
    path = _deliver(tmp_path, "csv")
    _lie(path, batch_id="to_dept@full-2")
    assert verify(path) == [
        f"{path}: batch_id: 'to_dept@full-2', its subscription and versions say 'to_dept@full-3'"
    ]
    _lie(path, batch_id="to_dept@full-4", to_version=4)
    assert verify(path) == [
        f"{path}: file: 'to_dept__v3.csv', its subscription and versions say 'to_dept__v4.csv'"
    ]


def test_csv_values_must_read_as_their_stated_types(tmp_path: Path) -> None:
    path = _deliver(tmp_path, "csv")
    _lie(path, columns=[{"name": "id", "type": "date32[day]"}, {"name": "name", "type": "string"}])
    (problem,) = verify(path)
    assert problem.startswith(f"{path}: columns: column id does not read as date32[day]: ")
    _lie(path, columns=[{"name": "id", "type": "int64"}, {"name": "name", "type": "string"}])
    text = path.read_text(encoding="utf-8").replace("\n7,", "\nseven,")  # a forged value
    path.write_text(text, encoding="utf-8")
    _lie(path, bytes=path.stat().st_size, sha256=file_sha256(path))  # and a recomputed hash
    (problem,) = verify(path)
    assert problem.startswith(f"{path}: columns: column id does not read as int64: ")
    assert "seven" in problem


def test_a_file_in_another_encoding_or_format_does_not_read(tmp_path: Path) -> None:
    path = _deliver(tmp_path, "csv", "gbk")
    _lie(path, encoding="utf-8")
    (problem,) = verify(path)
    assert problem.startswith(f"{path}: format: does not read as csv")


def test_json_lines_values_must_read_as_their_stated_types(tmp_path: Path) -> None:
    amounts = pa.array([Decimal("1.75"), Decimal("2")], pa.decimal128(9, 2))
    table = pa.table({"id": pa.array([1, 2], pa.int64()), "day": [date(2026, 1, 2), None],
                      "amount": amounts})  # fmt: skip
    path = _deliver(tmp_path, "jsonl", table=table)
    assert verify(path) == []
    lines = path.read_text(encoding="utf-8").replace('"1.75"', '"a lot"')
    path.write_text(lines, encoding="utf-8")
    _lie(path, bytes=path.stat().st_size, sha256=file_sha256(path))
    assert verify(path) == [
        f"{path}: columns: column amount does not read as decimal128(9, 2): 'a lot' (line 1)"
    ]
    _lie(path, columns=[{"name": "id", "type": "string"}, {"name": "day", "type": "date32[day]"},
                        {"name": "amount", "type": "string"}])  # fmt: skip
    assert verify(path) == [f"{path}: columns: column id does not read as string: 1 (line 1)"]
