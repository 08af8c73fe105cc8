"""Table push: upsert a delivery's rows into a department's database in one transaction.

The target table is created when absent, with types mapped from Arrow and a primary key on the
dataset's keys. Rows are upserted by those keys (PostgreSQL ``ON CONFLICT``, MySQL/MariaDB
``ON DUPLICATE KEY UPDATE``, SQLite ``ON CONFLICT``), so a repeated batch changes nothing and a
failure half-way commits nothing. PostgreSQL loads through ``COPY`` into a temporary table first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite

from govlake.errors import GovlakeError

ROWS_PER_STATEMENT = 5_000
SEQUENCE = "_govlake_seq"


def column_type(field: pa.Field, *, key: bool) -> sa.types.TypeEngine[Any]:
    """The SQL type of an Arrow field (keys get bounded strings, which MySQL needs)."""
    kind = field.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return sa.String(255) if key else sa.Text()
    if pa.types.is_integer(kind):
        return sa.BigInteger() if kind.bit_width == 64 else sa.Integer()
    if pa.types.is_floating(kind):
        return sa.Double()
    if pa.types.is_decimal(kind):
        return sa.Numeric(kind.precision, kind.scale)
    if pa.types.is_date(kind):
        return sa.Date()
    if pa.types.is_timestamp(kind):
        return sa.DateTime(timezone=kind.tz is not None)
    if pa.types.is_boolean(kind):
        return sa.Boolean()
    raise GovlakeError(f"column {field.name}: type {kind} has no SQL mapping for a table push")


def push(
    reader: pa.RecordBatchReader,
    engine: sa.Engine,
    table_name: str,
    keys: list[str],
    *,
    schema: str | None = None,
) -> int:
    """Upsert every row of ``reader`` into ``table_name`` by ``keys``; returns the rows sent."""
    target = _target(engine, table_name, reader.schema, keys, schema)
    rows = 0
    with engine.begin() as connection:
        target.create(connection, checkfirst=True)
        _check_columns(connection, target)
        if engine.dialect.name == "postgresql":
            rows = _copy_then_upsert(connection, target, reader, keys)
        else:
            statement = _upsert(engine.dialect.name, target, keys)
            for chunk in _chunks(reader):
                connection.execute(statement, chunk)
                rows += len(chunk)
    return rows


def _target(
    engine: sa.Engine, name: str, arrow: pa.Schema, keys: list[str], schema: str | None
) -> sa.Table:
    columns = [
        # Never AUTO_INCREMENT: MySQL would replace a key value 0 by the next number.
        sa.Column(
            f.name,
            column_type(f, key=f.name in keys),
            primary_key=f.name in keys,
            autoincrement=False,
        )
        for f in arrow
    ]
    return sa.Table(name, sa.MetaData(schema=schema), *columns)


def _check_columns(connection: sa.Connection, target: sa.Table) -> None:
    """An existing table must have every column sent (a changed schema is not guessed at)."""
    present = {c["name"] for c in sa.inspect(connection).get_columns(target.name, target.schema)}
    missing = [c.name for c in target.columns if c.name not in present]
    if missing:
        raise GovlakeError(
            f"table {target.fullname} has no column {', '.join(missing)}; "
            "add it there or drop the table to have it created again"
        )


def _upsert(dialect: str, target: sa.Table, keys: list[str]) -> Any:
    values = [c.name for c in target.columns if c.name not in keys]
    if dialect in {"mysql", "mariadb"}:
        statement = mysql.insert(target)
        updates = {c: statement.inserted[c] for c in values} or {
            keys[0]: statement.inserted[keys[0]]
        }
        return statement.on_duplicate_key_update(updates)
    if dialect == "sqlite":
        lite = sqlite.insert(target)
        if not values:
            return lite.on_conflict_do_nothing(index_elements=keys)
        return lite.on_conflict_do_update(
            index_elements=keys, set_={c: lite.excluded[c] for c in values}
        )
    raise GovlakeError(f"table push to {dialect} is not supported (PostgreSQL, MySQL, SQLite)")


def _chunks(reader: pa.RecordBatchReader) -> Iterator[list[dict[str, Any]]]:
    for batch in reader:
        records = batch.to_pylist()
        for start in range(0, len(records), ROWS_PER_STATEMENT):
            yield records[start : start + ROWS_PER_STATEMENT]


def _copy_then_upsert(
    connection: sa.Connection, target: sa.Table, reader: pa.RecordBatchReader, keys: list[str]
) -> int:
    """COPY into a temporary table, then one INSERT ... ON CONFLICT; the latest row per key wins."""
    names = [c.name for c in target.columns]
    quote = connection.dialect.identifier_preparer.quote
    listed = ", ".join(quote(n) for n in names)
    key_list = ", ".join(quote(k) for k in keys)
    stage = f"govlake_stage_{target.name}"
    full = connection.dialect.identifier_preparer.format_table(target)
    connection.exec_driver_sql(
        f"CREATE TEMP TABLE {quote(stage)} (LIKE {full}) ON COMMIT DROP; "
        f"ALTER TABLE {quote(stage)} ADD COLUMN {SEQUENCE} bigserial"
    )
    rows = 0
    raw = connection.connection.driver_connection
    assert raw is not None
    # Arrow writes the CSV: values quoted, nulls bare (so NULL and "" stay apart), ISO times.
    sql = f"COPY {quote(stage)} ({listed}) FROM STDIN (FORMAT csv)"
    options = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        for batch in reader:
            buffer = pa.BufferOutputStream()
            pacsv.write_csv(batch.select(names), buffer, options)
            copy.write(buffer.getvalue().to_pybytes())
            rows += batch.num_rows
    values = [n for n in names if n not in keys]
    action = (
        "DO UPDATE SET " + ", ".join(f"{quote(v)} = EXCLUDED.{quote(v)}" for v in values)
        if values
        else "DO NOTHING"
    )
    connection.exec_driver_sql(
        f"INSERT INTO {full} ({listed}) "
        f"SELECT DISTINCT ON ({key_list}) {listed} FROM {quote(stage)} "
        f"ORDER BY {key_list}, {SEQUENCE} DESC "
        f"ON CONFLICT ({key_list}) {action}"
    )
    return rows
