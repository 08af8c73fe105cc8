"""File formats read into Arrow: encodings, malformed rows, headers, and schema drift."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

from connectors.files import FileFormatError, FileReader, detect_encoding
from govlake.config.models import FileStream
from jobs.collect.drift import SchemaDriftError, check_drift

pytestmark = pytest.mark.unit


def stream(fmt: str, **kw: object) -> FileStream:
    return FileStream(name="s", pattern="*", format=fmt, **kw)  # type: ignore[arg-type]


def read(path: Path, fmt: str, **kw: object) -> tuple[list[dict], list]:
    reader = FileReader(path, stream(fmt, **kw))
    bad = list(reader.malformed())
    return reader.rows().read_all().to_pylist(), bad


@pytest.mark.parametrize(
    ("encoding", "detected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030"), ("gb18030", "gb18030")],
)
def test_encodings_are_detected(tmp_path: Path, encoding: str, detected: str) -> None:
    path = tmp_path / "f.csv"
    text = "单位名称,地址\n" + "".join(
        f"某某科技有限公司{i},北京市海淀区中关村大街{i}号\n" for i in range(50)
    )
    path.write_bytes(text.encode(encoding))
    assert detect_encoding(path) == detected
    rows, bad = read(path, "csv")
    assert bad == []
    assert rows[0] == {
        "单位名称": "某某科技有限公司0",
        "地址": "北京市海淀区中关村大街0号",
        "_file": "f.csv",
    }


def test_csv_keeps_text_and_reports_bad_lines_with_their_number(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text('id,amount,note\n007,"1,200.50",\n2,3\n3,4,x,y\n4,5,"multi\nline"\n')
    rows, bad = read(path, "csv", encoding="utf-8")
    assert [r["id"] for r in rows] == ["007", "4"]  # leading zeros kept: text, not numbers
    assert rows[0]["amount"] == "1,200.50" and rows[0]["note"] == ""
    assert rows[1]["note"] == "multi\nline"
    assert [(b.line, b.reason) for b in bad] == [
        (3, "expected 3 fields, found 2"),
        (4, "expected 3 fields, found 4"),
    ]


def test_csv_header_must_match_the_declared_columns(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("id,amount\n1,2\n")
    with pytest.raises(FileFormatError, match=r"f.csv: header does not match .*missing \['note'\]"):
        read(path, "csv", columns=["id", "amount", "note"])
    path.write_text("id,id\n1,2\n")
    with pytest.raises(FileFormatError, match=r"f.csv: header repeats column\(s\) \['id'\]"):
        read(path, "csv")


def test_json_lines_quarantine_bad_lines_and_learn_columns(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    lines = ['{"a": 1, "b": "x"}', "{oops", "[1, 2]", '{"a": 2.5, "c": {"k": true}}', ""]
    path.write_text("\n".join(lines))
    rows, bad = read(path, "jsonl")
    assert rows == [
        {"a": "1", "b": "x", "c": None, "_file": "f.jsonl"},
        {"a": "2.5", "b": None, "c": '{"k": true}', "_file": "f.jsonl"},
    ]
    assert [(b.line, b.reason.split(":")[0]) for b in bad] == [
        (2, "not valid JSON"),
        (3, "not a JSON object"),
    ]


def test_json_document_must_be_an_array(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text(json.dumps([{"名称": "甲"}, 5, {"名称": "乙"}], ensure_ascii=False))
    rows, bad = read(path, "json")
    assert [r["名称"] for r in rows] == ["甲", "乙"]
    assert [b.reason for b in bad] == ["not a JSON object"]
    path.write_text('{"a": 1}')
    with pytest.raises(FileFormatError, match="expected a JSON array"):
        read(path, "json")


def test_excel_rows_become_text_and_overlong_rows_are_set_aside(tmp_path: Path) -> None:
    import datetime as dt

    book = Workbook()
    sheet = book.active
    sheet.title = "缴费"
    sheet.append(["代码", "金额", "日期"])
    sheet.append(["A1", 1200.0, dt.date(2024, 5, 1)])
    sheet.append([None, None, None])
    sheet.append(["A2", 3.25, dt.datetime(2024, 5, 2, 8, 30), "extra"])
    book.save(tmp_path / "f.xlsx")
    rows, bad = read(tmp_path / "f.xlsx", "xlsx", sheet="缴费")
    assert rows == [
        {"代码": "A1", "金额": "1200", "日期": "2024-05-01T00:00:00", "_file": "f.xlsx"}
    ]
    assert [(b.line, b.reason) for b in bad] == [(4, "expected 3 cells, found 4")]
    with pytest.raises(FileFormatError, match="no sheet 'x'"):
        read(tmp_path / "f.xlsx", "xlsx", sheet="x")


def test_parquet_keeps_its_types(tmp_path: Path) -> None:
    table = pa.table({"id": pa.array([1, 2], pa.int32()), "v": pa.array([1.5, None])})
    pq.write_table(table, tmp_path / "f.parquet")
    reader = FileReader(tmp_path / "f.parquet", stream("parquet"))
    assert list(reader.malformed()) == []
    out = reader.rows().read_all()
    assert out.schema.field("id").type == pa.int32()
    assert out.column("v").to_pylist() == [1.5, None]


def test_a_truncated_binary_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "f.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(FileFormatError, match=r"f.parquet: not a readable parquet file"):
        read(tmp_path / "f.parquet", "parquet")


def test_schema_drift_policies() -> None:
    table = pa.schema([("id", pa.int64()), ("name", pa.large_string()), ("_batch_id", pa.string())])
    same = pa.schema([("id", pa.int64()), ("name", pa.string())])
    assert check_drift(table, same, policy="fail", where="t") is False
    assert check_drift(None, same, policy="fail", where="t") is False
    wider = same.append(pa.field("phone", pa.string()))
    assert check_drift(table, wider, policy="evolve", where="t") is True
    with pytest.raises(
        SchemaDriftError, match=r"t: schema drift: column 'phone' \(string\) is new"
    ):
        check_drift(table, wider, policy="fail", where="t")
    with pytest.raises(SchemaDriftError, match=r"column 'name' is gone"):
        check_drift(table, pa.schema([("id", pa.int64())]), policy="fail", where="t")
    retyped = pa.schema([("id", pa.string()), ("name", pa.string())])
    with pytest.raises(SchemaDriftError, match=r"column 'id' changed type from int64 to string"):
        check_drift(table, retyped, policy="evolve", where="t")
