"""PostgreSQL -> Delta bronze: govlake against dlt, an ADBC floor and the server's COPY ceiling.

    python -m bench.pg_bronze --rows 1000000 --repeat 3

Arms, on one lineitem-like table (16 columns: ints, decimals, dates, timestamps, strings):
- ``govlake``: the bronze ingest of a database source (``jobs.ingest``);
- ``dlt``: ``sql_table`` (pyarrow backend) -> filesystem destination, ``table_format="delta"``;
- ``adbc``: ADBC PostgreSQL -> Arrow record batches -> one ``write_deltalake`` (the floor);
- ``copy``: ``COPY ... TO STDOUT (FORMAT binary)`` read into nothing (the server's ceiling).
Every arm that writes a table reports a hash of its rows, which must agree; ``work s`` is the
arm's work alone (no interpreter start, no imports, no check), the process figures include them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from bench.collect_throughput import LINEITEM, POSTGRES, write_conf
from bench.harness import alternate, check_same_content, machine, markdown, save, summarise

HASHED = ["id", "order_key", "quantity", "extended_price", "ship_date", "ship_mode", "comment"]
ARMS = ["govlake", "dlt", "adbc", "copy"]


def content_hash(table: pa.Table) -> str:
    """SHA-256 of the hashed columns as text, rows ordered by id (same rows -> same hash)."""
    table = table.select(HASHED).sort_by("id")
    digest = hashlib.sha256()
    for name in HASHED:
        column = table.column(name)
        if pa.types.is_decimal(column.type):
            column = pc.cast(column, pa.decimal128(38, 2))
        values = pc.cast(column, pa.string()).to_pylist()
        digest.update("\x1f".join("\x00" if v is None else v for v in values).encode())
    return digest.hexdigest()[:16]


def _delta_result(path: str) -> dict[str, object]:
    from deltalake import DeltaTable

    table = DeltaTable(path)
    data = table.to_pyarrow_table(columns=HASHED)
    size = sum(pa.table(table.get_add_actions(flatten=True)).column("size_bytes").to_pylist())
    return {"rows": data.num_rows, "bytes": size, "content": content_hash(data)}


def arm_govlake(schema: str, work: Path) -> Path:
    """The bronze ingest of a database source, as govlake runs it."""
    from govlake.config import load_config
    from jobs.ingest import ingest

    source = (
        f"name: pg\nkind: database\ntitle: t\nowner: platform\nconn_id: pg_bench\n"
        f"default_url: {POSTGRES}\nstreams:\n  - {{name: rows, table: {schema}.lineitem, "
        f"primary_key: [id], cursor: updated_at, batch_size: 100000}}\n"
    )
    config = load_config(write_conf(work, source, "pg"))
    ingest(config, "bronze.pg", pipeline="bench", run_id="bench")
    return work / "lake" / "bronze" / "pg"


def arm_dlt(schema: str, work: Path) -> Path:
    """The peer: dlt sql_table (pyarrow backend) -> filesystem destination as Delta."""
    import dlt
    from dlt.sources.sql_database import sql_table

    pipeline = dlt.pipeline(
        pipeline_name="bench",
        pipelines_dir=str(work / "dlt"),
        destination=dlt.destinations.filesystem(bucket_url=(work / "lake").as_uri()),
        dataset_name="bronze",
        progress=None,
    )
    source = sql_table(
        credentials=POSTGRES, schema=schema, table="lineitem", backend="pyarrow", chunk_size=100_000
    )
    pipeline.run(source, table_format="delta")
    return work / "lake" / "bronze" / "lineitem"


def arm_adbc(schema: str, work: Path) -> Path:
    """The floor: ADBC record batches -> one write_deltalake."""
    import adbc_driver_postgresql.dbapi as adbc
    from deltalake import write_deltalake

    uri = POSTGRES.replace("postgresql+psycopg", "postgresql")
    with adbc.connect(uri) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT * FROM {schema}.lineitem")
        write_deltalake(str(work / "lake"), cur.fetch_record_batch())
    return work / "lake"


def arm_copy(schema: str, work: Path) -> dict[str, object]:
    """The ceiling: the server's binary COPY read into nothing."""
    import psycopg

    size = 0
    with psycopg.connect(POSTGRES.replace("postgresql+psycopg", "postgresql")) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY {schema}.lineitem TO STDOUT (FORMAT binary)") as copy:
                for block in copy:
                    size += len(block)
    return {"rows": None, "bytes": size, "content": None}


def run_one(arm: str, schema: str) -> None:
    """Child process: run one arm in a fresh folder, print its JSON line."""
    with tempfile.TemporaryDirectory(prefix="govlake-bench-") as work:
        started = time.perf_counter()
        output = globals()[f"arm_{arm}"](schema, Path(work))
        seconds = time.perf_counter() - started  # the check below is not part of the arm
        result = _delta_result(str(output)) if isinstance(output, Path) else output
        result["work_s"] = seconds
    print(json.dumps(result))


def main() -> None:
    """Create the table, alternate the arms, print and save the summary."""
    if len(sys.argv) > 1 and sys.argv[1] == "arm":
        run_one(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/pg_bronze"))
    args = parser.parse_args()
    engine = sa.create_engine(POSTGRES)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        conn.execute(sa.text(LINEITEM.format(t=f"{schema}.lineitem", rows=args.rows)))
        conn.execute(sa.text(f"ANALYZE {schema}.lineitem"))
    try:
        runs = alternate("bench.pg_bronze", ARMS, [schema], args.repeat)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    rows = summarise(runs, reference="govlake")
    check_same_content(rows)
    title = f"PostgreSQL -> Delta bronze, {args.rows:,} rows"
    save({"machine": machine(), "scenario": title, "arms": rows}, args.out)
    print(markdown(title, rows, "govlake"))


if __name__ == "__main__":
    main()
