"""Analyst SQL over lakehouse tables by name (``silver.enterprise_registry``), with DuckDB.

Each existing table is exposed as a view ``<zone>.<table>`` over a lazy Arrow dataset of its
active Delta files, so DuckDB pushes projections and filters down and reads only what the
query needs. A table one of whose files stores strings as Arrow views (what delta-rs's MERGE
writes) is scanned as a stream cast to the table's schema instead, because Arrow has no
comparison kernels for views and a pushed-down filter would fail; DuckDB filters it itself.

The SQL is sandboxed (docs/adr/0004): one read-only statement (``SELECT``, ``WITH``, ``VALUES``,
``DESCRIBE``, ``SUMMARIZE``, ``EXPLAIN``) over the registered views, in a DuckDB that can reach
no file, no extension, no environment and no Python object it was not given, and whose
settings are locked once the views exist. Every other use of DuckDB on data opens it through
:func:`sandbox` too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from govlake.errors import GovlakeError, UnknownDatasetError
from govlake.lakehouse import PLATFORM_TABLES, QUARANTINE_SUFFIX, ZONES, BrokenTableError, Lakehouse

READ_ONLY = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
# No file system (reads, COPY, ATTACH, EXPORT, INSTALL), no extension loading, no implicit
# scans of the caller's Python variables, and a bounded memory.
SANDBOX: dict[str, str | bool] = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "python_enable_replacements": False,
    "memory_limit": "4GB",
}
STREAM_BATCH_ROWS = 10_000


class QueryRefused(GovlakeError):
    """The SQL is not one read-only statement over the lakehouse views."""


class ConditionFailed(GovlakeError):
    """A condition cannot be evaluated over the data: two types compared, a cast that fails."""


# What a parsed filter can still make DuckDB refuse: binding it to the columns' types, or a
# value it casts.
_CONDITION_ERRORS = (duckdb.BinderException, duckdb.DataError)


def _condition_failed(exc: duckdb.Error) -> ConditionFailed:
    first = str(exc).splitlines()[0].split(": ", 1)[-1]
    return ConditionFailed(f"cannot be evaluated: {first}")


def sandbox() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that reaches nothing but what is registered in it; lock it after."""
    return duckdb.connect(config=dict(SANDBOX))


def lock(con: duckdb.DuckDBPyConnection) -> None:
    """Freeze the connection's settings: the sandbox cannot be switched off from SQL."""
    con.execute("SET lock_configuration = true")


def connect(
    lake: Lakehouse, refs: Iterable[str]
) -> tuple[duckdb.DuckDBPyConnection, list[str], dict[str, str]]:
    """A locked sandbox with a view per readable table, their names, and the broken ones.

    The tables are the datasets ``refs``, their quarantines and the platform's own tables; a
    table whose log or files are broken gets no view, and its problem is returned by name.
    """
    con = sandbox()
    for zone in ZONES:
        con.execute(f"CREATE SCHEMA {zone}")
    tables, broken = [], {}
    for ref in lake.present(refs):
        try:
            dataset = lake.dataset(ref)
        except BrokenTableError as exc:
            broken[ref] = str(exc)  # the other tables stay queryable
            continue
        source = "arrow__" + ref.replace(".", "__")
        con.register(source, scannable(dataset))
        zone, _, name = ref.partition(".")
        con.execute(f'CREATE VIEW {zone}."{name}" AS SELECT * FROM "{source}"')
        tables.append(ref)
    lock(con)
    return con, tables, broken


def scannable(dataset: ds.Dataset) -> ds.Dataset | CastStream:
    """``dataset``, or a re-scannable stream cast to its schema when a file stores views."""
    views = ("string_view", "binary_view")
    stored = (str(f.physical_schema) for f in dataset.get_fragments())
    if any(kind in schema for schema in stored for kind in views):
        return CastStream(dataset)
    return dataset


class CastStream:
    """A dataset read file by file and cast to its schema, opened anew for every scan."""

    def __init__(self, dataset: ds.Dataset) -> None:
        self.dataset = dataset

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """A fresh Arrow C stream of every row (the PyCapsule protocol DuckDB scans)."""
        schema = self.dataset.schema
        batches = (
            batch.cast(schema)
            for fragment in self.dataset.get_fragments()
            for batch in fragment.to_batches(schema=schema)
        )
        reader = pa.RecordBatchReader.from_batches(schema, batches)
        return reader.__arrow_c_stream__(requested_schema)


def tables_named(sql: str, datasets: Iterable[str]) -> set[str]:
    """The lakehouse tables ``sql`` names (datasets, quarantines, platform tables), lower case.

    Names that are no lakehouse table are left out: the query fails on them as unknown.
    """
    try:
        named = duckdb.get_table_names(sql, qualified=True)
    except duckdb.Error as exc:
        raise GovlakeError(f"query failed: {str(exc).splitlines()[0]}") from None
    known = {*datasets, *PLATFORM_TABLES}
    known |= {ref + QUARANTINE_SUFFIX for ref in datasets}
    return {ref for name in named if (ref := _unquoted(name)) in known}


def _unquoted(name: str) -> str:
    parts = [part.strip('"').lower() for part in name.split(".")]
    return ".".join(parts[1:] if len(parts) == 3 and parts[0] == "memory" else parts)


def read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse anything but exactly one read-only statement."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise GovlakeError(f"query failed: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise QueryRefused(f"one SQL statement at a time, not {len(statements)}")
    kind = statements[0].type
    if kind not in READ_ONLY:
        raise QueryRefused(
            f"only read-only queries (SELECT, WITH, DESCRIBE, EXPLAIN) run here, not {kind.name}"
        )


def query(lake: Lakehouse, refs: Iterable[str], sql: str) -> pa.Table:
    """Run ``sql`` and return its result; unknown tables are named with the known ones."""
    con, tables, broken = connect(lake, refs)
    try:
        read_only(con, sql)
        return con.sql(sql).to_arrow_table()
    except duckdb.CatalogException as exc:
        first = str(exc).splitlines()[0].removeprefix("Catalog Error: ")
        for ref, problem in broken.items():
            if f"name {ref.partition('.')[2]} does not exist" in first:
                raise BrokenTableError(problem) from None
        known = ", ".join(tables) or "none yet"
        raise UnknownDatasetError(f"unknown table in query: {first}; tables: {known}") from None
    except duckdb.PermissionException as exc:
        first = str(exc).splitlines()[0].removeprefix("Permission Error: ")
        raise QueryRefused(f"refused: {first}; only the lakehouse tables can be read") from None
    except duckdb.Error as exc:
        raise GovlakeError(f"query failed: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()


def select(
    lake: Lakehouse,
    ref: str,
    columns: Sequence[str],
    conditions: Sequence[str],
    params: Sequence[Any],
    *,
    order_by: Sequence[str],
    limit: int,
) -> pa.Table:
    """``columns`` of table ``ref`` where every condition holds, ordered, at most ``limit`` rows.

    Conditions are SQL the caller rendered from parsed filters or wrote with ``?`` placeholders
    for ``params``; column names are quoted here. It runs in the sandbox over ``ref`` alone.
    """
    with _over(lake, ref) as (con, table):
        sql = _select(columns, table, conditions, order_by)
        return con.sql(f"{sql} LIMIT {int(limit)}", params=list(params)).to_arrow_table()


@contextmanager
def scan(
    lake: Lakehouse,
    ref: str,
    columns: Mapping[str, str],
    conditions: Sequence[str],
    params: Sequence[Any],
    *,
    batch_rows: int = 65_536,
) -> Iterator[pa.RecordBatchReader]:
    """A stream of ``columns`` (name -> name given it) of table ``ref`` where every condition holds.

    Like :func:`select`, unordered and read a batch of at most ``batch_rows`` at a time while
    the context is open: only the batch in hand is in memory.
    """
    with _over(lake, ref) as (con, table):
        chosen = ", ".join(f"{quoted(c)} AS {quoted(a)}" for c, a in columns.items())
        sql = f"SELECT {chosen} FROM {table}"
        if conditions:
            sql += " WHERE " + " AND ".join(f"({c})" for c in conditions)
        yield con.sql(sql, params=list(params)).to_arrow_reader(batch_rows)


def select_streams(
    streams: Mapping[str, pa.RecordBatchReader], sql: str, params: Sequence[Any]
) -> pa.Table:
    """The result of ``sql`` over ``streams``, each registered under its name, in the sandbox.

    ``sql`` is built by the caller from quoted names, parsed filters and ``?`` placeholders for
    ``params``. Each stream is read once, as DuckDB's plan pulls it.
    """
    con = sandbox()
    with _answering(con):
        for name, stream in streams.items():
            con.register(name, stream)
        lock(con)
        return con.sql(sql, params=list(params)).to_arrow_table()


@contextmanager
def _over(lake: Lakehouse, ref: str) -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
    """The locked sandbox over table ``ref`` alone, and the table's quoted name in it."""
    con, tables, broken = connect(lake, [ref])
    with _answering(con):
        if ref in broken:
            raise BrokenTableError(broken[ref])
        if ref not in tables:
            raise UnknownDatasetError(f"table {ref} is not built yet")
        zone, _, name = ref.partition(".")
        yield con, f"{zone}.{quoted(name)}"


@contextmanager
def _answering(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Close ``con`` at the end; DuckDB's errors as one line (a condition's as ConditionFailed)."""
    try:
        yield
    except _CONDITION_ERRORS as exc:
        raise _condition_failed(exc) from None
    except duckdb.Error as exc:
        raise GovlakeError(f"query failed: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()


def _select(
    columns: Sequence[str], source: str, conditions: Sequence[str], order_by: Sequence[str]
) -> str:
    """``SELECT columns FROM source [WHERE conditions] [ORDER BY order_by]``, names quoted."""
    sql = f"SELECT {', '.join(quoted(c) for c in columns)} FROM {source}"
    if conditions:
        sql += " WHERE " + " AND ".join(f"({c})" for c in conditions)
    if order_by:
        sql += " ORDER BY " + ", ".join(quoted(c) for c in order_by)
    return sql


def quoted(name: str) -> str:
    """``name`` as a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def select_rows(
    rows: pa.Table, columns: Sequence[str], conditions: Sequence[str], *, order_by: Sequence[str]
) -> pa.Table:
    """``columns`` of the in-memory ``rows`` where every condition holds, ordered.

    Like :func:`select` over rows already read (the conditions are SQL rendered from parsed
    filters), in the same sandbox.
    """
    con = sandbox()
    try:
        con.register("arrow__rows", rows)
        lock(con)
        return con.sql(_select(columns, "arrow__rows", conditions, order_by)).to_arrow_table()
    except duckdb.Error as exc:
        raise GovlakeError(f"query failed: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()


@contextmanager
def streamed(
    lake: Lakehouse,
    ref: str,
    version: int,
    columns: Sequence[str],
    conditions: Sequence[str],
    params: Sequence[Any],
    *,
    batch_rows: int = STREAM_BATCH_ROWS,
) -> Iterator[Streamed]:
    """``columns`` of table ``ref`` at ``version`` where every condition holds, as a stream.

    Like :func:`select`, in the sandbox over ``ref`` alone, but unordered (so no sort holds
    the rows) and read batch by batch while the block lasts: memory is bounded by the batch,
    not the table. The version is pinned, so :meth:`Streamed.count` and the batches agree.
    """
    con = sandbox()
    try:
        con.register("arrow__table", scannable(lake.dataset(ref, version)))
        lock(con)
        sql = f"FROM arrow__table WHERE {' AND '.join(f'({c})' for c in conditions) or 'true'}"
        yield Streamed(con, [quoted(c) for c in columns], sql, list(params), batch_rows)
    except duckdb.Error as exc:
        raise GovlakeError(f"query failed: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()


@dataclass(frozen=True)
class Streamed:
    """A selection over one pinned table version: its row count, and its rows in batches."""

    con: duckdb.DuckDBPyConnection
    columns: list[str]
    source: str
    params: list[Any]
    batch_rows: int

    def count(self) -> int:
        """How many rows the selection holds."""
        (found,) = self.con.sql(f"SELECT count(*) {self.source}", params=self.params).fetchall()
        return int(found[0])

    def batches(self) -> pa.RecordBatchReader:
        """The rows, ``batch_rows`` at a time, read as they are consumed."""
        sql = f"SELECT {', '.join(self.columns)} {self.source}"
        return self.con.sql(sql, params=self.params).to_arrow_reader(self.batch_rows)
