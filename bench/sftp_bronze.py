"""A CSV dropped on SFTP -> Delta bronze: govlake against dlt and the transfer and parse floors.

Arms, on one CSV file on a real OpenSSH sshd on loopback (GBK or UTF-8, as the scenario says):
- ``govlake``: the bronze collection of an SFTP drop folder (``jobs.collect.ingest``): resumable
  download, SHA-256 for the file register, malformed lines to the quarantine, rows as text;
- ``dlt``: dlt's ``filesystem`` source over SFTP with its CSV reader ``read_csv`` (pandas in
  chunks; every column text) -> filesystem destination, ``table_format="delta"``. dlt 1.31
  passes GSS-API options that paramiko 5 no longer takes: the arm drops them, as they are
  off. Its faster ``read_csv_duckdb`` fails on the DuckDB installed (``fetchmany`` is gone
  from relations) and cannot decode GBK anyway;
- ``get``: paramiko's SFTP download of the file into nothing (the transfer floor);
- ``local_arrow``: the file already local -> ``pyarrow.csv`` (all text) -> one
  ``write_deltalake`` (the parse-and-write floor).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from bench.common import dlt_to_delta, govlake_ingest
from bench.harness import serve_arm

ARMS = ["govlake", "dlt", "get", "local_arrow"]
REFERENCE = "govlake"
IMPORTS = {
    "govlake": ["govlake.config", "jobs.collect.ingest", "jobs.collect.files"],
    "dlt": ["dlt", "dlt.sources.filesystem", "paramiko", "pandas"],
    "get": ["paramiko"],
    "local_arrow": ["deltalake", "pyarrow.dataset"],
}
COLUMNS = ["uscc", "company", "month", "insured", "amount", "paid_on", "address"]
HASHED = COLUMNS
FILE = "payments_20240603.csv"
CHUNK_ROWS = 100_000


def title(params: dict[str, Any]) -> str:
    """The scenario's heading."""
    return f"SFTP CSV ({params['encoding']}, about {params['mb']} MB) -> Delta bronze"


def _chunk(first: int, count: int, rng: np.random.Generator) -> bytes:
    from bench.data import uscc_codes

    ids = np.arange(first, first + count)
    table = pa.table(
        {
            "uscc": uscc_codes(ids % 200_000),
            "company": pc.binary_join_element_wise(
                "杭州", pc.cast(pa.array(ids % 200_000), pa.string()), "号科技有限公司", ""
            ),
            "month": pc.take(pa.array(["2024年5月", "2024-05", "202405"]), pa.array(ids % 3)),
            "insured": pa.array(rng.integers(1, 500, count)),
            "amount": pa.array(np.round(rng.random(count) * 1e6, 2)),
            "paid_on": pc.take(pa.array(["2024-06-03", "2024年6月3日"]), pa.array(ids % 2)),
            "address": pc.binary_join_element_wise(
                "浙江省杭州市西湖区文三路", pc.cast(pa.array(ids % 997), pa.string()), "号", ""
            ),
        }
    )
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=first == 0))
    return sink.getvalue().to_pybytes()


def write_csv(path: Path, megabytes: int, encoding: str) -> int:
    """About ``megabytes`` MB of payment rows in ``encoding``; returns the row count."""
    rng = np.random.default_rng(3)
    rows = 0
    with path.open("wb") as out:
        while out.tell() < megabytes * 1_000_000:
            text = _chunk(rows, CHUNK_ROWS, rng)
            out.write(text if encoding == "utf-8" else text.decode().encode(encoding))
            rows += CHUNK_ROWS
    return rows


@contextmanager
def prepared(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A real sshd on loopback with the CSV in its drop folder (and a local copy beside)."""
    import shutil

    from tests.sshd import USER, SshServer, missing_reason

    if reason := missing_reason():
        raise SystemExit(f"sftp scenario: {reason}")
    with tempfile.TemporaryDirectory(prefix="govlake-bench-sshd-") as home:
        Path(home).chmod(0o755)  # the SFTP user reads its keys below
        server = SshServer.create(Path(home) / "sshd")
        local = Path(home) / FILE
        rows = write_csv(local, params["mb"], params["encoding"])
        shutil.copy(local, server.drop / FILE)
        shutil.chown(server.drop / FILE, USER)
        with server:
            yield {
                **params,
                "rows": rows,
                "connection": server.connection(key=True),
                "key_file": str(server.home / "user_key"),
                "port": server.port,
                "folder": str(server.drop),
                "local": str(local),
            }


def arm_govlake(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The bronze collection of an SFTP drop folder, as govlake runs it."""
    os.environ["AIRFLOW_CONN_BENCH_DROP"] = params["connection"]
    os.environ["GOVLAKE_HOME"] = str(work / "home")
    source = (
        f"name: drop\nkind: files\ntitle: t\nowner: platform\ntransport: sftp\n"
        f"conn_id: bench_drop\nfolder: {params['folder']}\nstreams:\n  - {{name: rows, "
        f"pattern: '*.csv', format: csv, encoding: {params['encoding']}}}\n"
    )
    return govlake_ingest(work, source, "drop")


def _without_gss_options() -> None:
    """Let dlt 1.31 talk to paramiko 5, which dropped GSS-API: drop its (off) GSS options."""
    import paramiko

    connect = paramiko.SSHClient.connect

    def compatible(self: paramiko.SSHClient, *args: Any, **options: Any) -> None:
        for name in ("gss_auth", "gss_kex", "gss_deleg_creds", "gss_host", "gss_trust_dns"):
            if options.pop(name, None) and name in ("gss_auth", "gss_kex"):
                raise ValueError(f"{name} is not supported by paramiko 5")
        connect(self, *args, **options)

    paramiko.SSHClient.connect = compatible  # type: ignore[method-assign]


def arm_dlt(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The dlt filesystem source over SFTP and its CSV reader -> Delta."""
    from dlt.sources.filesystem import filesystem, read_csv

    _without_gss_options()
    files = filesystem(
        bucket_url=f"sftp://127.0.0.1:{params['port']}{params['folder']}",
        credentials={
            "sftp_port": params["port"],
            "sftp_username": "govlake_sftp",
            "sftp_key_filename": params["key_file"],
        },
        file_glob="*.csv",
    )
    reader = files | read_csv(encoding=params["encoding"], dtype=str)
    return dlt_to_delta(work, reader.with_name("payments"), "payments")


def arm_get(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """An SFTP download of the file with paramiko, written nowhere."""
    import paramiko

    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(
        "127.0.0.1", params["port"], username="govlake_sftp", key_filename=params["key_file"]
    )
    try:
        with client.open_sftp() as sftp, open(os.devnull, "wb") as sink:
            sftp.getfo(f"{params['folder']}/{FILE}", sink)
            size = sftp.stat(f"{params['folder']}/{FILE}").st_size
    finally:
        client.close()
    return {"rows": params["rows"], "bytes": size}


def arm_local_arrow(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The local file through pyarrow.csv (every column text) into one write_deltalake."""
    from deltalake import write_deltalake

    reader = pacsv.open_csv(
        params["local"],
        read_options=pacsv.ReadOptions(encoding=params["encoding"], block_size=16 << 20),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(COLUMNS, pa.string())),
    )
    write_deltalake(str(work / "lake"), reader)
    return {"output": str(work / "lake")}


if __name__ == "__main__":
    serve_arm({name: globals()[f"arm_{name}"] for name in ARMS}, IMPORTS)
