"""Collection throughput: PostgreSQL table -> bronze, and an SFTP-dropped GBK CSV -> bronze.

    python -m bench.collect_throughput postgres --rows 1000000
    python -m bench.collect_throughput sftp --mb 100      # needs root and openssh-server

Each run prints one JSON line: rows, seconds, rows/s and, as a floor on the same data, the
time of the raw transfer alone (``COPY ... TO STDOUT`` into nothing; an SFTP download into
nothing), so the ratio shows what collection adds on top of moving the bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from govlake.config import load_config
from govlake.lakehouse import Lakehouse
from jobs.ingest import ingest

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
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

CONF = """\
root: {lake}
"""


def write_conf(base: Path, source_yaml: str, name: str) -> Path:
    """A conf folder collecting one source stream into ``bronze.<name>``."""
    conf = base / "conf"
    for folder in ("sources", "datasets", "pipelines"):
        (conf / folder).mkdir(parents=True, exist_ok=True)
    (conf / "lakehouse.yaml").write_text(CONF.format(lake=base / "lake"))
    (conf / "departments.yaml").write_text("departments:\n  - {code: platform, name: 平台}\n")
    (conf / "sources" / f"{name}.yaml").write_text(source_yaml, encoding="utf-8")
    (conf / "datasets" / f"{name}.yaml").write_text(
        f"datasets:\n  - {{zone: bronze, name: {name}, title: t, owner: platform, "
        f"write: append, collect: {{source: {name}, stream: rows}}}}\n"
    )
    (conf / "pipelines" / f"{name}.yaml").write_text(
        f"name: {name}_ingest\ntitle: t\ndescription: d\nowner: platform\nbuilds: [bronze.{name}]\n"
    )
    return conf


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def postgres(rows: int, work: Path) -> dict[str, object]:
    """1M-style lineitem table in the local PostgreSQL -> bronze."""
    engine = sa.create_engine(POSTGRES)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        conn.execute(sa.text(LINEITEM.format(t=f"{schema}.lineitem", rows=rows)))
    try:
        source = (
            f"name: pg\nkind: database\ntitle: t\nowner: platform\nconn_id: pg_bench\n"
            f"default_url: {POSTGRES}\nstreams:\n  - {{name: rows, table: {schema}.lineitem, "
            f"primary_key: [id], cursor: updated_at, batch_size: 100000}}\n"
        )
        conf = write_conf(work, source, "pg")
        config = load_config(conf)
        seconds = _timed(lambda: ingest(config, "bronze.pg", pipeline="b", run_id="b1"))
        loaded = Lakehouse(config.lakehouse).describe("bronze.pg").rows

        def copy_out() -> None:
            raw = engine.raw_connection()
            try:
                with raw.cursor() as cur:  # type: ignore[attr-defined]
                    copy_sql = f"COPY {schema}.lineitem TO STDOUT (FORMAT binary)"
                    with cur.copy(copy_sql) as copy:
                        for _ in copy:
                            pass
            finally:
                raw.close()

        floor = _timed(copy_out)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()
    return {
        "scenario": "postgres->bronze",
        "rows": loaded,
        "seconds": round(seconds, 2),
        "rows_per_s": round(loaded / seconds),
        "copy_to_stdout_seconds": round(floor, 2),
        "ratio_to_copy": round(seconds / floor, 1),
    }


def sftp(megabytes: int, work: Path) -> dict[str, object]:
    """A GBK CSV of about ``megabytes`` MB on a real sshd -> bronze."""
    from govlake.scenario import social_insurance as si
    from tests.sshd import SshServer, missing_reason

    reason = missing_reason()
    if reason:
        raise SystemExit(f"sftp scenario: {reason}")
    employers = si.synthetic_employers(5000, seed=1)
    day = si.csv_bytes(si.rows(employers * 40, date(2024, 6, 3), seed=1))
    header, body = day.split(b"\r\n", 1)
    copies = max(1, megabytes * 1_000_000 // len(body))
    home = Path(tempfile.mkdtemp(prefix="govlake-bench-sshd-"))
    with SshServer.create(home) as server:
        server.put("social_insurance_20240603.csv", header + b"\r\n" + body * copies)
        size = (server.drop / "social_insurance_20240603.csv").stat().st_size
        os.environ["AIRFLOW_CONN_HR_DROP"] = server.connection(key=True)
        source = (
            f"name: hr\nkind: files\ntitle: t\nowner: platform\ntransport: sftp\n"
            f"conn_id: hr_drop\nfolder: {server.drop}\nstreams:\n  - {{name: rows, "
            f"pattern: '*.csv', format: csv, encoding: gbk}}\n"
        )
        os.environ["GOVLAKE_HOME"] = str(work / "home")
        config = load_config(write_conf(work, source, "hr"))
        seconds = _timed(lambda: ingest(config, "bronze.hr", pipeline="b", run_id="b1"))
        loaded = Lakehouse(config.lakehouse).describe("bronze.hr").rows

        from connectors.drop_folder import open_drop_folder

        def download() -> None:
            folder = open_drop_folder(config.sources["hr"])  # type: ignore[arg-type]
            with folder:
                [file] = folder.list("*.csv")
                target = work / "floor.part"
                folder.fetch(file, target)
                target.unlink()

        floor = _timed(download)
    return {
        "scenario": "sftp csv (gbk)->bronze",
        "bytes": size,
        "rows": loaded,
        "seconds": round(seconds, 2),
        "rows_per_s": round(loaded / seconds),
        "mb_per_s": round(size / 1e6 / seconds, 1),
        "sftp_download_seconds": round(floor, 2),
        "ratio_to_download": round(seconds / floor, 1),
    }


def main() -> None:
    """Parse arguments, run one scenario in a temp folder, print its JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=["postgres", "sftp"])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--mb", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="govlake-bench-") as work:
        if args.scenario == "postgres":
            result = postgres(args.rows, Path(work))
        else:
            result = sftp(args.mb, Path(work))
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
