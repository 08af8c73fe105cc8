"""PostgreSQL -> Delta bronze: govlake against dlt, an ADBC floor and the server's COPY ceiling.

Arms, on one lineitem-like table (16 columns: ints, decimals, dates, timestamps, strings):
- ``govlake``: the bronze ingest of a database source (``jobs.collect.ingest``);
- ``dlt``: ``sql_table`` (pyarrow backend) -> filesystem destination, ``table_format="delta"``;
- ``adbc``: ADBC PostgreSQL -> Arrow record batches -> one ``write_deltalake`` (the floor);
- ``copy``: ``COPY ... TO STDOUT (FORMAT binary)`` read into nothing (the server's ceiling).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import POSTGRES, dlt_to_delta, govlake_ingest
from bench.harness import serve_arm

ARMS = ["govlake", "dlt", "adbc", "copy"]
REFERENCE = "govlake"
IMPORTS = {
    "govlake": ["govlake.config", "jobs.collect.ingest", "jobs.collect.database"],
    "dlt": ["dlt", "dlt.sources.sql_database"],
    "adbc": ["adbc_driver_postgresql.dbapi", "deltalake", "pyarrow.dataset"],
    "copy": ["psycopg"],
}
HASHED = [
    "id", "order_key", "CAST(quantity AS DECIMAL(38,2))", "CAST(extended_price AS DECIMAL(38,2))",
    "ship_date", "ship_mode", "comment",
]  # fmt: skip
LINEITEM = """
CREATE TABLE {t} AS SELECT
  g AS id, (g % 200000) AS order_key, (g % 50000)::int AS part_key, (g % 1000)::int AS supp_key,
  (g % 7)::smallint AS line_number, ((g % 50) + 1)::numeric(12,2) AS quantity,
  ((g % 100000) / 7.0)::numeric(15,2) AS extended_price,
  ((g % 10) / 100.0)::numeric(4,2) AS discount,
  ((g % 8) / 100.0)::numeric(4,2) AS tax, chr(65 + (g % 3)) AS return_flag,
  chr(70 + (g % 2)) AS line_status, DATE '1995-01-01' + (g % 2500) AS ship_date,
  DATE '1995-01-01' + (g % 2500) + 30 AS commit_date,
  TIMESTAMP '2024-01-01' + (g || ' seconds')::interval AS updated_at,
  (ARRAY['陆运','海运','空运','铁路'])[1 + g % 4] AS ship_mode,
  md5(g::text) || ' 备注' AS comment
FROM generate_series(1, {rows}) AS g
"""


def title(params: dict[str, Any]) -> str:
    """The scenario's heading."""
    return f"PostgreSQL -> Delta bronze, {params['rows']:,} rows (16-column lineitem-like table)"


@contextmanager
def prepared(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A fresh schema holding the seeded table; dropped afterwards."""
    import sqlalchemy as sa

    engine = sa.create_engine(POSTGRES)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        conn.execute(sa.text(LINEITEM.format(t=f"{schema}.lineitem", rows=params["rows"])))
        conn.execute(sa.text(f"ANALYZE {schema}.lineitem"))
    try:
        yield {**params, "schema": schema}
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def arm_govlake(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The bronze ingest of a database source, as govlake runs it."""
    source = (
        f"name: pg\nkind: database\ntitle: t\nowner: platform\nconn_id: pg_bench\n"
        f"default_url: {POSTGRES}\nstreams:\n  - {{name: rows, table: {params['schema']}.lineitem, "
        f"primary_key: [id], cursor: updated_at, batch_size: 100000}}\n"
    )
    return govlake_ingest(work, source, "pg")


def arm_dlt(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The peer: dlt sql_table (pyarrow backend) -> filesystem destination as Delta."""
    from dlt.sources.sql_database import sql_table

    source = sql_table(
        credentials=POSTGRES,
        schema=params["schema"],
        table="lineitem",
        backend="pyarrow",
        chunk_size=100_000,
    )
    return dlt_to_delta(work, source, "lineitem")


def arm_adbc(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The floor: ADBC record batches -> one write_deltalake."""
    import adbc_driver_postgresql.dbapi as adbc
    from deltalake import write_deltalake

    uri = POSTGRES.replace("postgresql+psycopg", "postgresql")
    with adbc.connect(uri) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT * FROM {params['schema']}.lineitem")
        write_deltalake(str(work / "lake"), cur.fetch_record_batch())
    return {"output": str(work / "lake")}


def arm_copy(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The ceiling: the server's binary COPY read into nothing."""
    import psycopg

    size = 0
    with psycopg.connect(POSTGRES.replace("postgresql+psycopg", "postgresql")) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY {params['schema']}.lineitem TO STDOUT (FORMAT binary)") as copy:
                for block in copy:
                    size += len(block)
    return {"rows": params["rows"], "bytes": size}


if __name__ == "__main__":
    serve_arm({name: globals()[f"arm_{name}"] for name in ARMS}, IMPORTS)
