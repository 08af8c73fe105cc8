"""Every column type of PostgreSQL and MariaDB, collected into bronze and read back from Delta.

One case per type: a table ``(id, v <type>)`` on the real server holds a few literal values and
a NULL, the real ingest collects it into a Delta table, and the values read back from Delta
must be those of docs/database-types.md, in the Arrow type given there. On PostgreSQL the
Arrow-native (ADBC) read and the row read must also give the same table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from connectors.database import DatabaseReader
from govlake.config.loader import load_config
from govlake.lakehouse import Lakehouse
from govlake.runtime import Runtime
from jobs.collect.ingest import ingest

pytestmark = pytest.mark.integration

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
INTERVAL = pa.struct([("months", pa.int32()), ("days", pa.int32()), ("microseconds", pa.int64())])
UUID = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"


@dataclass(frozen=True)
class Case:
    """A column type, the SQL literals stored in it, and what bronze must hold for them."""

    column: str
    literals: list[str]
    arrow: pa.DataType
    values: list[object]
    setup: list[str] = field(default_factory=list)  # DDL run first; {schema} is replaced


POSTGRES_CASES = {
    "integer[]": Case(
        "integer[]", ["'{1,NULL,3}'", "'{}'"], pa.list_(pa.int64()), [[1, None, 3], []]
    ),
    "integer[][]": Case(
        "integer[][]", ["'{{1,2},{3,4}}'"], pa.list_(pa.list_(pa.int64())), [[[1, 2], [3, 4]]]
    ),
    "text[]": Case(
        "text[]", ["'{a,\"b,c\",企业,NULL}'"], pa.list_(pa.string()), [["a", "b,c", "企业", None]]
    ),
    "numeric[]": Case(
        "numeric(10,2)[]",
        ["'{1.50,-2}'"],
        pa.list_(pa.decimal128(10, 2)),
        [[Decimal("1.50"), Decimal("-2.00")]],
    ),  # fmt: skip
    "uuid[]": Case("uuid[]", [f"'{{{UUID}}}'"], pa.list_(pa.string()), [[UUID]]),
    "uuid": Case("uuid", [f"'{UUID.upper()}'"], pa.string(), [UUID]),
    "interval": Case(
        "interval",
        ["'1 year 2 mons -3 days 04:05:06.789'", "'-00:00:00.000001'", "'100:00:00'"],
        INTERVAL,
        [
            {"months": 14, "days": -3, "microseconds": 14_706_789_000},
            {"months": 0, "days": 0, "microseconds": -1},
            {"months": 0, "days": 0, "microseconds": 360_000_000_000},
        ],
    ),
    "inet": Case(
        "inet",
        ["'192.168.1.5/24'", "'10.0.0.1'", "'2001:db8::1/64'"],
        pa.string(),
        ["192.168.1.5/24", "10.0.0.1", "2001:db8::1/64"],
    ),  # fmt: skip
    "cidr": Case(
        "cidr", ["'10.0.0.0/8'", "'2001:db8::/32'"], pa.string(), ["10.0.0.0/8", "2001:db8::/32"]
    ),  # fmt: skip
    "macaddr": Case("macaddr", ["'08:00:2B:01:02:03'"], pa.string(), ["08:00:2b:01:02:03"]),
    "money": Case(
        "money",
        ["12.34", "-1234567.89"],
        pa.decimal128(19, 2),
        [Decimal("12.34"), Decimal("-1234567.89")],
    ),  # fmt: skip
    "enum": Case(
        "{schema}.grade",
        ["'公开'", "'internal'"],
        pa.string(),
        ["公开", "internal"],
        setup=["CREATE TYPE {schema}.grade AS ENUM ('公开', 'internal')"],
    ),  # fmt: skip
    "int4range": Case(
        "int4range", ["'[1,10)'", "'(,5]'", "'empty'"], pa.string(), ["[1,10)", "(,6)", "empty"]
    ),
    "numrange": Case("numrange", ["'(1.5,2.25]'"], pa.string(), ["(1.5,2.25]"]),
    "daterange": Case(
        "daterange", ["'[2024-01-01,2024-02-01)'"], pa.string(), ["[2024-01-01,2024-02-01)"]
    ),
    "bit": Case("bit(4)", ["B'1010'", "B'0001'"], pa.string(), ["1010", "0001"]),
    "varbit": Case("bit varying(8)", ["B'101'", "B''"], pa.string(), ["101", ""]),
    "xml": Case("xml", ["'<名称 a=\"1\">企业</名称>'"], pa.string(), ['<名称 a="1">企业</名称>']),
    "json": Case(
        "json",
        ['\'{"b": 1,  "a": 12345678901234567890.5}\''],
        pa.string(),
        ['{"b": 1,  "a": 12345678901234567890.5}'],
    ),  # fmt: skip
    "jsonb": Case(
        "jsonb", ['\'{"b": 1,  "区划": [330106]}\''], pa.string(), ['{"b": 1, "区划": [330106]}']
    ),  # fmt: skip
    "time": Case(
        "time",
        ["'12:30:15.5'", "'24:00:00'", "'00:00:00.000001'"],
        pa.string(),
        ["12:30:15.500000", "24:00:00.000000", "00:00:00.000001"],
    ),  # fmt: skip
    "timetz": Case("time with time zone", ["'12:30:00+08'"], pa.string(), ["12:30:00+08"]),
    "point": Case("point", ["'(1.5,2)'"], pa.string(), ["(1.5,2)"]),
    "tsvector": Case("tsvector", ["'a fat cat'"], pa.string(), ["'a' 'cat' 'fat'"]),
    "numeric(50,10)": Case(
        "numeric(50,10)",
        ["12345678901234567890123456789012345678.1234567890"],
        pa.string(),
        ["12345678901234567890123456789012345678.1234567890"],
    ),  # fmt: skip
    "domain": Case(
        "{schema}.positive",
        ["7"],
        pa.int64(),
        [7],
        setup=["CREATE DOMAIN {schema}.positive AS integer CHECK (VALUE > 0)"],
    ),  # fmt: skip
    "composite": Case(
        "{schema}.pair",
        ["ROW(1, 'a b')"],
        pa.string(),
        ['(1,"a b")'],
        setup=["CREATE TYPE {schema}.pair AS (n integer, label text)"],
    ),  # fmt: skip
    "hstore": Case(
        "{schema}.hstore",
        ["'a=>1'"],
        pa.string(),
        ['"a"=>"1"'],
        setup=["CREATE EXTENSION hstore SCHEMA {schema}"],
    ),  # fmt: skip
}

# LINESTRING(0 0, 1 1) as ISO WKB, little-endian.
LINE_WKB = bytes.fromhex("010200000002000000" + "00" * 16 + "000000000000f03f000000000000f03f")
POINT_WKB = bytes.fromhex("0101000000" + "000000000000f03f" + "0000000000000040")

MARIADB_CASES = {
    "json": Case(
        "json", ['\'{"b": 1,  "区划": [330106]}\''], pa.string(), ['{"b": 1,  "区划": [330106]}']
    ),  # fmt: skip
    "set": Case("set('甲', 'b', 'c')", ["'c,甲'", "''"], pa.list_(pa.string()), [["甲", "c"], []]),
    "enum": Case("enum('公开', 'internal')", ["'公开'"], pa.string(), ["公开"]),
    "bit(1)": Case("bit(1)", ["b'1'", "b'0'"], pa.string(), ["1", "0"]),
    "bit(10)": Case(
        "bit(10)", ["b'1000000001'", "b'11'"], pa.string(), ["1000000001", "0000000011"]
    ),  # fmt: skip
    "year": Case("year", ["2024", "1901"], pa.int16(), [2024, 1901]),
    "time": Case(
        "time(6)",
        ["'12:30:15.5'", "'-838:59:59'", "'100:00:00.000001'"],
        pa.string(),
        ["12:30:15.500000", "-838:59:59.000000", "100:00:00.000001"],
    ),  # fmt: skip
    "geometry": Case(
        "geometry", ["ST_GeomFromText('LINESTRING(0 0,1 1)', 4326)"], pa.binary(), [LINE_WKB]
    ),  # fmt: skip
    "point": Case("point", ["POINT(1, 2)"], pa.binary(), [POINT_WKB]),
    "uuid": Case("uuid", [f"'{UUID.upper()}'"], pa.string(), [UUID]),
    "inet6": Case(
        "inet6",
        ["'2001:db8::1'", "'::ffff:10.1.2.3'"],
        pa.string(),
        ["2001:db8::1", "::ffff:10.1.2.3"],
    ),  # fmt: skip
    "inet4": Case("inet4", ["'10.1.2.3'"], pa.string(), ["10.1.2.3"]),
    "bigint unsigned": Case(
        "bigint unsigned",
        ["18446744073709551615"],
        pa.decimal128(20, 0),
        [Decimal(18446744073709551615)],
    ),  # fmt: skip
    "tinyblob": Case("tinyblob", ["x'00ff'"], pa.binary(), [b"\x00\xff"]),
    "varbinary": Case("varbinary(4)", ["x'00ff'"], pa.binary(), [b"\x00\xff"]),
    "int unsigned": Case("int unsigned", ["4294967295"], pa.int64(), [4294967295]),
    "decimal(65,30)": Case(
        "decimal(65,30)",
        ["12345678901234567890123456789012345.5"],
        pa.string(),
        ["12345678901234567890123456789012345.500000000000000000000000000000"],
    ),  # fmt: skip
}


def _insert(conn: sa.Connection, table: str, literals: list[str]) -> None:
    for i, literal in enumerate([*literals, "NULL"], start=1):
        conn.execute(sa.text(f"INSERT INTO {table} (id, v) VALUES ({i}, {literal})"))


def _bronze(conf: Path) -> pa.Table:
    config = load_config(conf)
    [result] = ingest(Runtime(config), "bronze.src", pipeline="src_ingest", run_id="r1")
    assert result.status == "committed"
    return Lakehouse(config.lakehouse).read("bronze.src").sort_by("id")


def _assert_round_trip(bronze: pa.Table, case: Case) -> None:
    assert bronze.schema.field("v").type == case.arrow
    got = bronze.column("v").to_pylist()
    assert got == [*case.values, None]
    if case.column in ("json", "jsonb"):  # the text is the document
        assert json.loads(got[0]) == json.loads(case.values[0])  # type: ignore[arg-type]


def _postgres_reads(table: str) -> dict[bool, pa.Table]:
    tables = {}
    for native in (True, False):
        with DatabaseReader(POSTGRES_URL, name="src", arrow_native=native) as db:
            tables[native] = db.read_batches(db.table(table)).read_all()
    return tables


@pytest.mark.parametrize("case", POSTGRES_CASES.values(), ids=POSTGRES_CASES.keys())
def test_postgresql_type_round_trip(
    case: Case,
    postgres_schema: tuple[sa.Engine, str],
    single_source_conf: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, schema = postgres_schema
    column = case.column.format(schema=schema)
    with engine.begin() as conn:
        for statement in case.setup:
            conn.execute(sa.text(statement.format(schema=schema)))
        conn.execute(sa.text(f"CREATE TABLE {schema}.typed (id integer PRIMARY KEY, v {column})"))
        _insert(conn, f"{schema}.typed", case.literals)
    monkeypatch.setenv("AIRFLOW_CONN_SRC_DB", "postgres://postgres@127.0.0.1:5432/test")
    _assert_round_trip(_bronze(single_source_conf("src", f"{schema}.typed", "id")), case)
    reads = _postgres_reads(f"{schema}.typed")
    assert reads[True].equals(reads[False])


def test_postgis_geometry_round_trip(
    postgres_schema: tuple[sa.Engine, str],
    single_source_conf: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, schema = postgres_schema
    with engine.begin() as conn:
        available = conn.execute(
            sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")
        ).first()
    if available is None:
        pytest.skip("the PostGIS extension is not installed on the local PostgreSQL")
    case = Case("geometry", ["ST_GeomFromText('LINESTRING(0 0,1 1)', 4326)"], pa.binary(),
                [LINE_WKB])  # fmt: skip
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE EXTENSION postgis SCHEMA {schema}"))
        conn.execute(sa.text(f"SET search_path TO {schema}, public"))
        conn.execute(sa.text(f"CREATE TABLE {schema}.typed (id integer PRIMARY KEY, v geometry)"))
        _insert(conn, f"{schema}.typed", case.literals)
    monkeypatch.setenv("AIRFLOW_CONN_SRC_DB", "postgres://postgres@127.0.0.1:5432/test")
    _assert_round_trip(_bronze(single_source_conf("src", f"{schema}.typed", "id")), case)


@pytest.mark.parametrize("case", MARIADB_CASES.values(), ids=MARIADB_CASES.keys())
def test_mariadb_type_round_trip(
    case: Case,
    mariadb_database: tuple[sa.Engine, str],
    single_source_conf: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, name = mariadb_database
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE typed (id integer PRIMARY KEY, v {case.column})"))
        _insert(conn, "typed", case.literals)
    monkeypatch.setenv("AIRFLOW_CONN_SRC_DB", f"mysql://root@127.0.0.1:3306/{name}?charset=utf8mb4")
    _assert_round_trip(_bronze(single_source_conf("src", "typed", "id")), case)
