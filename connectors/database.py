"""Relational sources through SQLAlchemy 2, read as a stream of Arrow record batches.

Each reflected column is read as :mod:`connectors.database_types` says (docs/database-types.md):
decimals keep their precision, timestamps their time zone, arrays become lists, and a type with
no Arrow or Delta counterpart is converted on the server, so no column type stops an ingest.
Incremental reads take the window ``lower < cursor <= upper``; the caller fixes ``upper`` first
(:meth:`DatabaseReader.max_value`) and commits it with the rows, so rows that arrive during a
read wait for the next run.

PostgreSQL tables whose columns ADBC reads as the row path does (every type but arrays,
intervals and MariaDB's SET) are read Arrow-native through ADBC, which streams the server's
binary COPY into record batches without a Python object per value (about 3x faster, see
bench/RESULTS.md); other tables and other databases go through SQLAlchemy rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Generator
from contextlib import closing
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from connectors import database_types
from connectors.database_types import ColumnRead
from govlake.errors import GovlakeError


class DatabaseReader:
    """A read-only session on one database; use as a context manager."""

    def __init__(self, url: str, *, name: str, arrow_native: bool = True) -> None:
        """Prepare a connection to ``url``; ``name`` is the source's name in error messages.

        ``arrow_native=False`` reads PostgreSQL through SQLAlchemy rows as well.
        """
        self.name = name
        parsed = make_url(url)
        self._adbc_uri = (
            parsed.set(drivername="postgresql").render_as_string(hide_password=False)
            if arrow_native and parsed.get_backend_name() == "postgresql"
            else None
        )
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            if not Path(parsed.database or "").is_file():
                raise GovlakeError(f"source {name}: database file not found: {parsed.database}")
        self._engine = sa.create_engine(url, pool_pre_ping=True)
        database_types.register_types(self._engine.dialect)
        self._streams: list[Generator[pa.RecordBatch, None, None]] = []
        self._safe_url = parsed.render_as_string(hide_password=True)
        self._metadata = sa.MetaData()
        sa.event.listen(self._metadata, "column_reflect", _exact_floats)

    def __enter__(self) -> DatabaseReader:
        """Check that the database answers."""
        try:
            with self._engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            self._engine.dispose()
            reason = str(getattr(exc, "orig", exc)).splitlines()[0]
            message = f"source {self.name}: cannot connect to {self._safe_url}: {reason}"
            raise GovlakeError(message) from None
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the streams left open (a failed write stops reading midway), then the pool."""
        for stream in self._streams:
            stream.close()
        self._engine.dispose()

    def table(self, name: str) -> sa.Table:
        """Reflect ``name`` (``schema.table`` allowed)."""
        schema, _, table = name.rpartition(".")
        try:
            with warnings.catch_warnings():  # a type SQLAlchemy does not know is read as text
                warnings.filterwarnings("ignore", "Did not recognize type", sa.exc.SAWarning)
                reflected = sa.Table(
                    table, self._metadata, autoload_with=self._engine, schema=schema or None
                )
        except sa.exc.NoSuchTableError:
            raise GovlakeError(f"source {self.name}: table {name!r} not found") from None
        if self._engine.dialect.name == "postgresql":
            with self._engine.connect() as conn:
                database_types.with_array_dimensions(conn, reflected)
        return reflected

    def _column_reads(self, table: sa.Table) -> list[ColumnRead]:
        dialect = self._engine.dialect.name
        return [database_types.column_read(c, dialect) for c in table.columns]

    def schema(self, table: sa.Table) -> pa.Schema:
        """Arrow schema of the table's columns."""
        reads = self._column_reads(table)
        return pa.schema(
            [
                pa.field(c.name, read.arrow, nullable=bool(c.nullable))
                for c, read in zip(table.columns, reads, strict=True)
            ]
        )

    def _column(self, table: sa.Table, name: str) -> sa.Column[Any]:
        if name not in table.c:
            raise GovlakeError(f"source {self.name}: table {table.name!r} has no column {name!r}")
        return table.c[name]

    def max_value(self, table: sa.Table, cursor: str, lower: Any = None) -> Any:
        """Largest cursor value above ``lower``; ``None`` when there is nothing new."""
        column = self._column(table, cursor)
        query = sa.select(sa.func.max(column))
        if lower is not None:
            query = query.where(column > lower)
        with self._engine.connect() as conn:
            return conn.execute(query).scalar()

    def read_batches(
        self,
        table: sa.Table,
        *,
        cursor: str | None = None,
        lower: Any = None,
        upper: Any = None,
        batch_size: int = 50_000,
    ) -> pa.RecordBatchReader:
        """Stream the rows (in the cursor window when given) as Arrow record batches."""
        schema = self.schema(table)
        reads = self._column_reads(table)
        converters = [read.convert for read in reads]
        selected = [read.select.label(c.name) for c, read in zip(table.columns, reads, strict=True)]
        query = sa.select(*selected).select_from(table)
        if cursor is not None:
            column = self._column(table, cursor)
            if lower is not None:
                query = query.where(column > lower)
            if upper is not None:
                query = query.where(column <= upper)

        if self._adbc_uri and all(read.native for read in reads):
            literal = {"literal_binds": True}  # ADBC takes no SQLAlchemy parameters
            sql = str(query.compile(dialect=self._engine.dialect, compile_kwargs=literal))
            stream = _adbc_batches(self._adbc_uri, sql, schema, self.name, table.name)
        else:
            stream = self._row_batches(query, schema, converters, table.name, batch_size)
        self._streams.append(stream)
        return pa.RecordBatchReader.from_batches(schema, stream)

    def _row_batches(
        self,
        query: sa.Select[Any],
        schema: pa.Schema,
        converters: list[Callable[[Any], Any] | None],
        table: str,
        batch_size: int,
    ) -> Generator[pa.RecordBatch, None, None]:
        try:
            with self._engine.connect() as conn:
                options = conn.execution_options(stream_results=True, yield_per=batch_size)
                with closing(options.execute(query)) as result:  # its server-side cursor too
                    for rows in result.partitions(batch_size):
                        yield _to_batch(rows, schema, converters, self.name, table)
        except sa.exc.DBAPIError as exc:
            reason = str(exc.orig).splitlines()[0]
            raise GovlakeError(f"source {self.name}: table {table!r}: {reason}") from None


def _adbc_batches(
    uri: str, sql: str, schema: pa.Schema, source: str, table: str
) -> Generator[pa.RecordBatch, None, None]:
    """Stream ``sql`` through ADBC's PostgreSQL driver, cast to ``schema``."""
    import adbc_driver_postgresql.dbapi as adbc

    try:
        with adbc.connect(uri) as conn, conn.cursor() as cursor:
            cursor.execute(sql)
            for batch in cursor.fetch_record_batch():
                yield _conform(batch, schema, source, table)
    except adbc.Error as exc:
        reason = str(exc).splitlines()[0]
        raise GovlakeError(f"source {source}: table {table!r}: {reason}") from None


def _conform(batch: pa.RecordBatch, schema: pa.Schema, source: str, table: str) -> pa.RecordBatch:
    """``batch`` with the declared types (ADBC sends NUMERIC as text, INTEGER as int32)."""
    arrays = []
    for field, array in zip(schema, batch.columns, strict=True):
        try:
            arrays.append(array if array.type == field.type else array.cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise GovlakeError(
                f"source {source}: table {table!r} column {field.name!r}: value does not fit "
                f"{field.type}: {exc}"
            ) from None
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _exact_floats(inspector: Any, table: sa.Table, column: dict[str, Any]) -> None:
    """Read floating columns as floats: MySQL's DOUBLE otherwise comes rounded to a Decimal."""
    if isinstance(column["type"], sa.Float):
        column["type"].asdecimal = False


def _to_batch(
    rows: Any,
    schema: pa.Schema,
    converters: list[Callable[[Any], Any] | None],
    source: str,
    table: str,
) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    arrays = []
    for field, convert, raw in zip(schema, converters, columns, strict=True):
        values = [convert(v) for v in raw] if convert is not None else raw
        try:
            arrays.append(pa.array(values, type=field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            raise GovlakeError(
                f"source {source}: table {table!r} column {field.name!r}: value does not fit "
                f"{field.type}: {exc}"
            ) from None
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
