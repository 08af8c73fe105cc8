"""Analyst SQL over lakehouse tables by name (``silver.enterprise_registry``), with DuckDB.

Each existing table is exposed as a view ``<zone>.<table>`` over a lazy Arrow dataset of its
active Delta files, so DuckDB pushes projections and filters down and reads only what the
query needs.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb
import pyarrow as pa

from govlake.errors import GovlakeError, UnknownDatasetError
from govlake.lakehouse import ZONES, Lakehouse


def connect(lake: Lakehouse, refs: Iterable[str]) -> tuple[duckdb.DuckDBPyConnection, list[str]]:
    """A DuckDB connection with a view per existing table, and the tables' names.

    The tables are the datasets ``refs``, their quarantines and the platform's own tables.
    """
    con = duckdb.connect()
    for zone in ZONES:
        con.execute(f"CREATE SCHEMA {zone}")
    tables = lake.present(refs)
    for ref in tables:
        source = "arrow__" + ref.replace(".", "__")
        con.register(source, lake.dataset(ref))
        zone, _, name = ref.partition(".")
        con.execute(f'CREATE VIEW {zone}."{name}" AS SELECT * FROM "{source}"')
    return con, tables


def query(lake: Lakehouse, refs: Iterable[str], sql: str) -> pa.Table:
    """Run ``sql`` and return its result; unknown tables are named with the known ones."""
    con, tables = connect(lake, refs)
    try:
        return con.sql(sql).to_arrow_table()
    except duckdb.CatalogException as exc:
        first = str(exc).splitlines()[0].removeprefix("Catalog Error: ")
        known = ", ".join(tables) or "none yet"
        raise UnknownDatasetError(f"unknown table in query: {first}; tables: {known}") from None
    except duckdb.Error as exc:
        raise GovlakeError(f"query failed: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
