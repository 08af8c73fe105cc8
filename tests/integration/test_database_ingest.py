"""Collection from real databases into bronze: faithful types, incremental cursor, clear errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql

from connectors.database import DatabaseReader
from govlake.config.loader import load_config
from govlake.errors import GovlakeError
from govlake.lakehouse import Lakehouse
from govlake.runtime import Runtime
from jobs.collect.ingest import ingest

pytestmark = pytest.mark.integration


def _typed_table(
    metadata: sa.MetaData, schema: str | None, *, tz: bool, json_column: bool = True
) -> sa.Table:
    doc = [sa.Column("doc", sa.JSON(none_as_null=True))] if json_column else []
    return sa.Table(
        "typed_rows",
        metadata,
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("amount", sa.Numeric(20, 4)),
        sa.Column("ratio", sa.Double),
        sa.Column(
            "happened", sa.DateTime(timezone=tz).with_variant(mysql.DATETIME(fsp=6), "mysql")
        ),
        sa.Column("day", sa.Date),
        sa.Column("title", sa.String(100)),
        sa.Column("payload", sa.LargeBinary),
        *doc,
        sa.Column("flag", sa.Boolean),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        schema=schema,
    )


def _rows(first: int, count: int, *, tz: bool) -> list[dict[str, object]]:
    happened = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC if tz else None)
    rows = []
    for i in range(first, first + count):
        rows.append(
            {
                "id": i,
                "amount": Decimal("12345678901234.5678") + i,
                "ratio": i / 3,
                "happened": happened,
                "day": date(2023, 5, 1),
                "title": f"企业信用信息 第{i}条",
                "payload": bytes([0, 255, i % 256]),
                "doc": {"区划": "330106", "n": i},
                "flag": i % 2 == 0,
                "updated_at": datetime(2024, 1, 1, 0, 0, i),
            }
        )
    nulls = dict.fromkeys(rows[0], None)
    rows.append(
        {**nulls, "id": first + count, "updated_at": datetime(2024, 1, 1, 0, 0, first + count)}
    )
    return rows


def _check_bronze(lake: Lakehouse, ref: str, expected: list[dict[str, object]]) -> None:
    table = lake.read(ref).sort_by("id")
    assert table.schema.field("amount").type == pa.decimal128(20, 4)
    assert table.schema.field("day").type == pa.date32()
    got = table.to_pylist()
    assert len(got) == len(expected)
    for row, want in zip(got, expected, strict=True):
        for column, value in want.items():
            if value is None:
                assert row[column] is None, column
            elif column == "doc":
                assert json.loads(row[column]) == value
            elif column == "flag":
                assert bool(row[column]) == value
            else:
                assert row[column] == value, column


def _ingest_twice(conf: Path, engine: sa.Engine, table: sa.Table, *, tz: bool) -> None:
    config = load_config(conf)
    lake = Lakehouse(config.lakehouse)
    [first] = ingest(Runtime(config), "bronze.src", pipeline="src_ingest", run_id="r1")
    assert (first.status, first.rows) == ("committed", 6)
    _check_bronze(lake, "bronze.src", _rows(1, 5, tz=tz))
    assert lake.last_cursor("bronze.src") == {
        "column": "updated_at",
        "type": "datetime",
        "value": "2024-01-01T00:00:06",
    }

    assert (
        ingest(Runtime(config), "bronze.src", pipeline="src_ingest", run_id="r2")[0].status
        == "no_rows"
    )
    with engine.begin() as conn:
        conn.execute(table.insert(), _rows(10, 2, tz=tz))
    [second] = ingest(Runtime(config), "bronze.src", pipeline="src_ingest", run_id="r3")
    assert (second.status, second.rows) == ("committed", 3)
    _check_bronze(lake, "bronze.src", _rows(1, 5, tz=tz) + _rows(10, 2, tz=tz))


def test_postgresql_types_and_increments(
    postgres_schema: tuple[sa.Engine, str],
    single_source_conf: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, schema = postgres_schema
    table = _typed_table(sa.MetaData(), schema, tz=True)
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), _rows(1, 5, tz=True))
    conf = single_source_conf("src", f"{schema}.typed_rows")
    monkeypatch.setenv("AIRFLOW_CONN_SRC_DB", "postgres://postgres@127.0.0.1:5432/test")
    _ingest_twice(conf, engine, table, tz=True)
    bronze = Lakehouse(load_config(conf).lakehouse).read("bronze.src")
    assert bronze.schema.field("happened").type == pa.timestamp("us", tz="UTC")


def test_postgresql_plain_types_stream_arrow_native_as_rows_read_them(
    postgres_schema: tuple[sa.Engine, str],
) -> None:
    engine, schema = postgres_schema
    table = _typed_table(sa.MetaData(), schema, tz=True, json_column=False)
    table.create(engine)
    rows = [{k: v for k, v in row.items() if k != "doc"} for row in _rows(1, 5, tz=True)]
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
    first, last = rows[0]["updated_at"], rows[-1]["updated_at"]
    window = {"cursor": "updated_at", "lower": first, "upper": last}
    batches = {}
    for native in (True, False):
        url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        with DatabaseReader(url, name="src", arrow_native=native) as db:
            typed_rows = db.table(f"{schema}.typed_rows")
            batches[native] = list(db.read_batches(typed_rows, batch_size=2, **window))
    # ADBC cuts batches by bytes, SQLAlchemy by rows: each path ran.
    assert [b.num_rows for b in batches[True]] == [5]
    assert [b.num_rows for b in batches[False]] == [2, 2, 1]
    native, by_rows = (pa.Table.from_batches(batches[n]) for n in (True, False))
    assert native.equals(by_rows)
    assert native.column("id").to_pylist() == [2, 3, 4, 5, 6]  # lower < cursor <= upper
    assert native.slice(4).to_pylist() == [{**dict.fromkeys(rows[0]), "id": 6, "updated_at": last}]
    assert native.schema.field("amount").type == pa.decimal128(20, 4)


def test_postgresql_enums_stream_arrow_native_and_arrays_by_rows(
    postgres_schema: tuple[sa.Engine, str],
) -> None:
    engine, schema = postgres_schema
    table = sa.Table(
        "graded",
        sa.MetaData(),
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("grade", sa.Enum("public", "internal", name="grade", schema=schema)),
        sa.Column("tags", postgresql.ARRAY(sa.Text)),
        schema=schema,
    )
    table.create(engine)
    rows = [{"id": i, "grade": "internal", "tags": ["a", "b"]} for i in range(3)]
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    with DatabaseReader(url, name="src") as db:
        graded = db.table(f"{schema}.graded")
        by_rows = list(db.read_batches(graded, batch_size=2))
        columns = (graded.c.id.copy(), graded.c.grade.copy())
        enums_only = sa.Table("graded", sa.MetaData(), *columns, schema=schema)
        native = list(db.read_batches(enums_only, batch_size=2))
    # ADBC cuts batches by bytes, the row path by rows; ADBC flattens arrays of two dimensions.
    assert [b.num_rows for b in by_rows] == [2, 1]
    assert [b.num_rows for b in native] == [3]
    assert pa.Table.from_batches(by_rows).to_pylist() == rows
    assert pa.Table.from_batches(native).column("grade").to_pylist() == ["internal"] * 3


def test_mariadb_types_and_increments(
    mariadb_database: tuple[sa.Engine, str],
    single_source_conf: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, name = mariadb_database
    table = _typed_table(sa.MetaData(), None, tz=False)
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), _rows(1, 5, tz=False))
    conf = single_source_conf("src", "typed_rows")
    monkeypatch.setenv(
        "AIRFLOW_CONN_SRC_DB",
        json.dumps(
            {
                "conn_type": "mysql",
                "host": "127.0.0.1",
                "port": 3306,
                "login": "root",
                "schema": f"{name}?charset=utf8mb4",
            }
        ),
    )
    _ingest_twice(conf, engine, table, tz=False)


def test_unreachable_source_is_a_clear_error_and_writes_nothing(
    single_source_conf: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = single_source_conf("src", "typed_rows")
    monkeypatch.setenv("AIRFLOW_CONN_SRC_DB", "postgres://etl:secret@127.0.0.1:1/nowhere")
    config = load_config(conf)
    with pytest.raises(GovlakeError) as caught:
        ingest(Runtime(config), "bronze.src", pipeline="src_ingest", run_id="r1")
    message = str(caught.value)
    assert message.startswith(
        "source src: cannot connect to postgresql+psycopg://etl:***@127.0.0.1:1"
    )
    assert "secret" not in message
    assert not Lakehouse(config.lakehouse).exists("bronze.src")


def test_missing_table_and_missing_cursor_column(
    postgres_schema: tuple[sa.Engine, str],
    single_source_conf: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, schema = postgres_schema
    monkeypatch.setenv("AIRFLOW_CONN_SRC_DB", "postgresql://postgres@127.0.0.1:5432/test")
    config = load_config(single_source_conf("src", f"{schema}.absent"))
    with pytest.raises(GovlakeError, match=f"source src: table '{schema}.absent' not found"):
        ingest(Runtime(config), "bronze.src", pipeline="src_ingest", run_id="r1")
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {schema}.plain (id int)"))
    config = load_config(single_source_conf("src", f"{schema}.plain"))
    with pytest.raises(GovlakeError, match="table 'plain' has no column 'updated_at'"):
        ingest(Runtime(config), "bronze.src", pipeline="src_ingest", run_id="r1")


def test_a_changed_column_type_is_reported_even_with_no_new_rows(
    postgres_schema: tuple[sa.Engine, str],
    single_source_conf: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jobs.collect.drift import SchemaDriftError

    engine, schema = postgres_schema
    monkeypatch.setenv("AIRFLOW_CONN_SRC_DB", "postgresql://postgres@127.0.0.1:5432/test")
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {schema}.quiet (id int, updated_at timestamp)"))
        conn.execute(sa.text(f"INSERT INTO {schema}.quiet VALUES (1, '2024-01-01')"))
    config = load_config(single_source_conf("src", f"{schema}.quiet"))
    [first] = ingest(Runtime(config), "bronze.src", pipeline="src_ingest", run_id="r1")
    assert (first.status, first.rows) == ("committed", 1)
    with engine.begin() as conn:
        conn.execute(sa.text(f"ALTER TABLE {schema}.quiet ALTER COLUMN id TYPE text"))
    with pytest.raises(SchemaDriftError, match="column 'id' changed type from int64 to string"):
        ingest(Runtime(config), "bronze.src", pipeline="src_ingest", run_id="r2")
    assert Lakehouse(config.lakehouse).version("bronze.src") == 0


@pytest.mark.parametrize("native", [True, False], ids=["adbc", "rows"])
def test_a_read_stopped_midway_leaves_no_session_open_on_the_source(
    native: bool, postgres_schema: tuple[sa.Engine, str]
) -> None:
    engine, schema = postgres_schema
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {schema}.many AS SELECT generate_series(1, 5) id"))
    name = f"govlake-{schema}"
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/test?application_name={name}"

    def write_fails_after_one_batch() -> None:
        with DatabaseReader(url, name="src", arrow_native=native) as db:
            rows = db.read_batches(db.table(f"{schema}.many"), batch_size=2)
            rows.read_next_batch()
            raise RuntimeError("the write failed")  # as a Delta write does, holding the stream

    with pytest.raises(RuntimeError):
        write_fails_after_one_batch()
    with engine.connect() as conn:
        sessions = conn.execute(
            sa.text("SELECT state FROM pg_stat_activity WHERE application_name = :name"),
            {"name": name},
        ).all()
    assert sessions == []
