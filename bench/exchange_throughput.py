"""Delivery throughput: a 1M-row gold table to a department over SFTP, and into PostgreSQL.

    python -m bench.exchange_throughput sftp --rows 1000000      # needs root and openssh-server
    python -m bench.exchange_throughput postgres --rows 1000000

The table (16 mixed columns: ints, decimals, dates, timestamps, Chinese text) is written to a
local Delta table first. Each run prints one JSON line: rows, bytes, seconds, rows/s, MB/s, and
as a floor on the same data the raw transfer alone: an SFTP upload of the delivered file's bytes,
or ``COPY ... FROM STDIN`` of the same rows as CSV into a plain table.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa

from bench.common import POSTGRES, write_conf
from govlake.config.loader import load_config
from govlake.lakehouse import Commit, Lakehouse
from govlake.runtime import Runtime
from jobs.exchange.deliver import Delivery, deliver
from jobs.exchange.ledger import Ledger
from jobs.exchange.terms import DeliveryTerms

OWN = DeliveryTerms()  # the bench node is the owning department's: its own data, no grant

SOURCE = (
    "name: gold\nkind: files\ntitle: t\nowner: platform\ntransport: local\nfolder: /nonexistent\n"
    "streams: [{name: rows, pattern: '*.csv', format: csv}]\n"
)


def lineitem(rows: int) -> pa.Table:
    """A seeded lineitem-like table keyed by ``id``."""
    g = np.arange(1, rows + 1, dtype=np.int64)
    money = pa.decimal128(15, 2)
    start, epoch = date(1995, 1, 1), datetime(2024, 1, 1, tzinfo=UTC)
    return pa.table(
        {
            "id": g,
            "order_key": g % 200_000,
            "part_key": (g % 50_000).astype(np.int32),
            "supp_key": (g % 1000).astype(np.int32),
            "line_number": (g % 7).astype(np.int32),
            "quantity": pa.array((g % 50 + 1).astype(np.float64)).cast(pa.decimal128(12, 2)),
            "extended_price": pa.array(np.round((g % 100_000) / 7.0, 2)).cast(money),
            "discount": pa.array((g % 10) / 100.0).cast(pa.decimal128(4, 2)),
            "tax": pa.array((g % 8) / 100.0).cast(pa.decimal128(4, 2)),
            "return_flag": pa.array(np.array(["A", "B", "C"])[g % 3]),
            "line_status": pa.array(np.array(["F", "G"])[g % 2]),
            "ship_date": pa.array([start + timedelta(days=int(d)) for d in g % 2500]),
            "commit_date": pa.array([start + timedelta(days=int(d) + 30) for d in g % 2500]),
            "updated_at": pa.array(epoch.timestamp() * 1e6 + g * 1e6, pa.int64()).cast(
                pa.timestamp("us", "UTC")
            ),
            "ship_mode": pa.array(np.array(["陆运", "海运", "空运", "铁路"])[g % 4]),
            "comment": pa.array([f"{i:032x} 备注" for i in g]),
        }
    )


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _setup(work: Path, rows: int, endpoint: str, subscription: str) -> Path:
    os.environ["GOVLAKE_HOME"] = str(work / "home")
    conf = write_conf(work, SOURCE, "gold")
    datasets = conf / "datasets" / "gold.yaml"
    datasets.write_text(datasets.read_text().replace("write: append", "keys: [id], write: append"))
    (conf / "exchange").mkdir()
    (conf / "exchange" / "nodes.yaml").write_text(
        "nodes:\n  - name: dept\n    department: platform\n    title: t\n    endpoints:\n"
        f"      - {endpoint}\n"
    )
    (conf / "exchange" / "subscriptions.yaml").write_text(
        f"subscriptions:\n  - {{name: bench, title: t, dataset: bronze.gold, node: dept, "
        f"{subscription}}}\n"
    )
    config = load_config(conf)
    Lakehouse(config.lakehouse).write(
        "bronze.gold", lineitem(rows), Commit("b", "b", "b1", "bench"), mode="append"
    )
    from govlake.platform_db.database import open_platform_db

    ledger = Ledger(open_platform_db(config))
    ledger.sync_nodes(config)
    ledger.set_status("dept", "approved", actor="bench", reason=None)
    return conf


def _timed_delivery(conf: Path) -> tuple[float, Delivery]:
    """Seconds to deliver the bench subscription's batch, and what was delivered."""
    started = time.perf_counter()
    done = deliver(Runtime.load(conf), "bench", terms=OWN)
    return time.perf_counter() - started, done


def sftp(rows: int, work: Path) -> dict[str, object]:
    """Deliver as a GBK CSV with manifest to a real sshd; floor: upload of the same bytes."""
    from tests.sshd import SshServer, missing_reason

    if reason := missing_reason():
        raise SystemExit(f"sftp scenario: {reason}")
    home = Path(tempfile.mkdtemp(prefix="govlake-bench-sshd-"))
    with SshServer.create(home) as server:
        os.environ["AIRFLOW_CONN_DEPT_FILES"] = server.connection(key=True)
        conf = _setup(
            work,
            rows,
            f"{{name: inbox, kind: files, conn_id: dept_files, folder: {server.drop}}}",
            "endpoint: inbox, file: {format: csv, encoding: gbk}",
        )
        seconds, done = _timed_delivery(conf)
        delivered = server.drop / "bench__v0.csv"
        copy = work / "floor.csv"
        copy.write_bytes(delivered.read_bytes())

        from connectors.folders.sftp import SftpFolder
        from govlake.connections import endpoint

        def upload() -> None:
            with SftpFolder(endpoint("dept_files"), str(server.drop), source="bench") as folder:
                folder.upload(copy, "floor.csv")

        floor = _timed(upload)
    return {
        "scenario": "gold -> sftp csv (gbk) + manifest",
        "rows": done.rows,
        "bytes": done.bytes,
        "seconds": round(seconds, 2),
        "rows_per_s": round(done.rows / seconds),
        "mb_per_s": round(done.bytes / 1e6 / seconds, 1),
        "sftp_upload_seconds": round(floor, 2),
        "ratio_to_upload": round(seconds / floor, 1),
    }


def postgres(rows: int, work: Path) -> dict[str, object]:
    """Upsert into a PostgreSQL table; floor: COPY of the same rows as CSV into a plain table."""
    engine = sa.create_engine(POSTGRES)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with engine.begin() as db:
        db.execute(sa.text(f"CREATE SCHEMA {schema}"))
    os.environ["AIRFLOW_CONN_DEPT_DB"] = POSTGRES
    try:
        conf = _setup(
            work,
            rows,
            f"{{name: db, kind: database, conn_id: dept_db, database_schema: {schema}}}",
            "endpoint: db, table: lineitem",
        )
        seconds, done = _timed_delivery(conf)
        table = Lakehouse(load_config(conf).lakehouse).read("bronze.gold")
        table = table.select(lineitem(1).column_names)
        buffer = io.BytesIO()
        pacsv.write_csv(table, buffer)
        with engine.begin() as db:
            db.execute(sa.text(f"CREATE TABLE {schema}.floor (LIKE {schema}.lineitem)"))

        def copy_in() -> None:
            raw = engine.raw_connection()
            try:
                with raw.cursor() as cur:  # type: ignore[attr-defined]
                    sql = f"COPY {schema}.floor FROM STDIN (FORMAT csv, HEADER)"
                    with cur.copy(sql) as copy:
                        copy.write(buffer.getvalue())
                raw.commit()
            finally:
                raw.close()

        floor = _timed(copy_in)
        with engine.connect() as db:
            landed = db.scalar(sa.text(f"SELECT count(*) FROM {schema}.lineitem"))
    finally:
        with engine.begin() as db:
            db.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()
    return {
        "scenario": "gold -> postgresql upsert",
        "rows": landed,
        "csv_bytes": len(buffer.getvalue()),
        "seconds": round(seconds, 2),
        "rows_per_s": round(done.rows / seconds),
        "mb_per_s_as_csv": round(len(buffer.getvalue()) / 1e6 / seconds, 1),
        "copy_from_stdin_seconds": round(floor, 2),
        "ratio_to_copy": round(seconds / floor, 1),
    }


def main() -> None:
    """Parse arguments, run one scenario in a temp folder, print its JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=["postgres", "sftp"])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="govlake-bench-") as work:
        run = postgres if args.scenario == "postgres" else sftp
        print(json.dumps(run(args.rows, Path(work)), ensure_ascii=False))


if __name__ == "__main__":
    main()
