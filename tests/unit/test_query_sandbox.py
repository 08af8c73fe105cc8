"""Analyst SQL reads the lakehouse views and nothing else: no files, no environment, no writes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from govlake.config.models import LakehouseConfig
from govlake.errors import GovlakeError
from govlake.lakehouse import Commit, Lakehouse
from jobs.query import QueryRefused, query

pytestmark = pytest.mark.unit
REF = "gold.people"


@pytest.fixture
def lake(tmp_path: Path) -> Lakehouse:
    lake = Lakehouse(LakehouseConfig(root=str(tmp_path / "lake")))
    rows = pa.table({"id": [1, 2, 3], "day": [date(2024, 1, 1)] * 3})
    lake.write(REF, rows, Commit("p", "r", "b1", "test"), mode="append")
    return lake


def _parquet_of(lake: Lakehouse) -> Path:
    (uri,) = lake.table(REF).file_uris()
    return Path(uri.removeprefix("file://"))


def test_the_views_answer(lake: Lakehouse) -> None:
    result = query(lake, [REF], "SELECT count(*) AS n, max(id) AS top FROM gold.people")
    assert result.to_pylist() == [{"n": 3, "top": 3}]
    described = query(lake, [REF], "DESCRIBE gold.people")
    assert described.column("column_name").to_pylist()[:2] == ["id", "day"]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_text('/proc/self/environ')",
        "SELECT * FROM read_csv('/etc/hosts')",
        "SELECT * FROM glob('/*')",
        "SELECT * FROM read_parquet('{parquet}')",
    ],
)
def test_no_file_can_be_read(lake: Lakehouse, sql: str) -> None:
    with pytest.raises(QueryRefused, match="refused: Cannot access file"):
        query(lake, [REF], sql.format(parquet=_parquet_of(lake)))


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("COPY (SELECT 42 AS id, DATE '2024-01-01' AS day) TO '{parquet}' (FORMAT parquet)",
         "COPY"),
        ("ATTACH '/tmp/other.duckdb' AS other", "ATTACH"),
        ("INSTALL httpfs", "LOAD"),
        ("LOAD httpfs", "LOAD"),
        ("SET enable_external_access = true", "SET"),
        ("RESET lock_configuration", "SET"),
        ("EXPORT DATABASE '/tmp/export'", "EXPORT"),
        ("CREATE TABLE copy AS SELECT * FROM gold.people", "CREATE"),
        ("DROP VIEW gold.people", "DROP"),
        ("PRAGMA enable_profiling", "PRAGMA"),
    ],
)  # fmt: skip
def test_nothing_but_reads_runs(lake: Lakehouse, sql: str, kind: str) -> None:
    before = _parquet_of(lake).read_bytes()
    with pytest.raises(QueryRefused, match=f"only read-only queries .* not {kind}"):
        query(lake, [REF], sql.format(parquet=_parquet_of(lake)))
    assert _parquet_of(lake).read_bytes() == before, "the live table file is untouched"
    assert query(lake, [REF], "SELECT sum(id) AS s FROM gold.people").to_pylist() == [{"s": 6}]


def test_a_path_is_no_table_name(lake: Lakehouse) -> None:
    with pytest.raises(GovlakeError, match="unknown table in query: Table with name /etc/hosts"):
        query(lake, [REF], "SELECT * FROM '/etc/hosts'")


def test_one_statement_at_a_time(lake: Lakehouse) -> None:
    with pytest.raises(QueryRefused, match="one SQL statement at a time, not 2"):
        query(lake, [REF], "SELECT 1; COPY (SELECT 1) TO '/tmp/x.csv'")


def test_the_environment_and_python_variables_are_out_of_reach(lake: Lakehouse) -> None:
    with pytest.raises(GovlakeError, match="getenv"):
        query(lake, [REF], "SELECT getenv('HOME')")
    lake_rows = pa.table({"secret": [1]})  # noqa: F841 (a local a replacement scan would find)
    with pytest.raises(GovlakeError, match="lake_rows"):
        query(lake, [REF], "SELECT * FROM lake_rows")


def test_a_settings_change_inside_a_read_is_refused(lake: Lakehouse) -> None:
    with pytest.raises(GovlakeError):
        query(lake, [REF], "SELECT * FROM gold.people WHERE set_config('a', 'b') IS NULL")


def test_a_filter_holds_on_a_table_whose_merge_wrote_string_views(tmp_path: Path) -> None:
    lake = Lakehouse(LakehouseConfig(root=str(tmp_path / "lake")))
    ref = "silver.firms"
    first = pa.table({"uscc": ["a", "b"], "status": ["open", "open"]})
    lake.write(ref, first, Commit("p", "r", "b1", "test"), mode="merge", keys=["uscc"])
    later = pa.table({"uscc": ["b", "c"], "status": ["closed", "open"]})
    lake.write(ref, later, Commit("p", "r", "b2", "test"), mode="merge", keys=["uscc"])
    stored = [str(f.physical_schema) for f in lake.dataset(ref).get_fragments()]
    assert any("string_view" in s for s in stored)  # what delta-rs's MERGE writes
    sql = "SELECT uscc FROM silver.firms WHERE status = 'open' AND uscc <> 'x' ORDER BY uscc"
    assert query(lake, [ref], sql).column("uscc").to_pylist() == ["a", "c"]
    joined = "SELECT count(*) AS n FROM silver.firms a JOIN silver.firms b USING (uscc)"
    assert query(lake, [ref], joined).to_pylist() == [{"n": 3}]  # scanned twice
