"""Drop folders on a local disk, a real FTP server (pyftpdlib) and a real sshd (SFTP)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from apps.cli.main import app
from apps.local_servers import LOOPBACK, FtpServer
from connectors.files import FileFormatError
from connectors.folders.base import DropFolderError
from govlake.config.loader import load_config
from govlake.lakehouse import Lakehouse
from govlake.principal import Principal
from govlake.runtime import Runtime
from jobs.collect.ingest import ingest
from subjects.social_insurance import seed as si
from tests.sshd import SshServer

pytestmark = pytest.mark.integration

SOURCE = """\
name: hr
kind: files
title: 社保缴费投递目录
owner: platform
transport: {transport}
{conn}folder: {folder}
streams:
  - name: rows
    pattern: "social_insurance_*.csv"
    format: csv
    encoding: {encoding}
{extra}"""

EMPLOYERS = si.synthetic_employers(400, seed=3)


def day_file(day: int, malformed: int = 0, encoding: str = "gbk") -> tuple[bytes, int]:
    """A day's GBK CSV and how many of its rows are well-formed."""
    records = si.rows(EMPLOYERS * 10, date(2024, 6, day), seed=1)
    return si.csv_bytes(records, encoding=encoding, malformed=malformed, seed=day), len(
        records
    ) - malformed


def big_file(day: int, copies: int) -> tuple[bytes, int]:
    """A day's file with its data lines repeated ``copies`` times (a few MB)."""
    data, good = day_file(day)
    header, body = data.split(b"\r\n", 1)
    return header + b"\r\n" + body * copies, good * copies


def files_conf(
    source_conf: Callable[..., Path],
    transport: str,
    folder: str,
    *,
    conn: bool = True,
    encoding: str = "auto",
    extra: str = "",
) -> Path:
    conn_line = "conn_id: hr_drop\n" if conn else ""
    yaml = SOURCE.format(
        transport=transport, conn=conn_line, folder=folder, encoding=encoding, extra=extra
    )
    return source_conf("hr", yaml)


def collect(conf: Path, run_id: str = "r1") -> list:  # noqa: ANN001
    return ingest(Runtime.load(conf), "bronze.hr", pipeline="hr_ingest", run_id=run_id)


def bronze(conf: Path, ref: str = "bronze.hr"):  # noqa: ANN201
    return Lakehouse(load_config(conf).lakehouse).read(ref)


def test_local_drop_quarantines_malformed_lines_and_loads_each_file_once(
    source_conf: Callable[..., Path], tmp_path: Path, sign_in: Callable[..., Principal]
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    data, good = day_file(1, malformed=4)
    (drop / "social_insurance_20240601.csv").write_bytes(data)
    conf = files_conf(source_conf, "local", str(drop), conn=False)

    collect(conf)
    rows = bronze(conf)
    assert rows.num_rows == good
    assert set(rows.column("_file").to_pylist()) == {"social_insurance_20240601.csv"}
    assert set(rows.column("单位名称").to_pylist()) <= {name for _, name in EMPLOYERS}  # GBK read
    quarantine = bronze(conf, "bronze.hr__quarantine").to_pylist()
    assert len(quarantine) == 4
    assert all(q["_file"] == "social_insurance_20240601.csv" for q in quarantine)
    assert all(q["_line"] > 1 and "fields, found" in q["_reason"] for q in quarantine)
    sign_in(conf, "engineer", "data_engineer", org="platform")
    listed = CliRunner().invoke(app, ["quality", "quarantine", "bronze.hr", "-o", "json",
                                      "--conf", str(conf)])  # fmt: skip
    assert listed.exit_code == 0, listed.output
    shown = json.loads(listed.stdout)
    assert [(r["file"], r["line"], r["reason"], r["raw"]) for r in shown] == [
        (q["_file"], q["_line"], q["_reason"], q["_raw"]) for q in quarantine
    ]
    assert all(r["raw"] for r in shown)  # the unreadable line itself, to fix at the source

    # Nothing new: nothing loaded. The same content under another name: registered, not loaded.
    collect(conf, "r2")
    shutil.copy(drop / "social_insurance_20240601.csv", drop / "social_insurance_copy.csv")
    [seen] = collect(conf, "r3")
    assert seen.rows == 0
    assert bronze(conf).num_rows == good
    register = Lakehouse(load_config(conf).lakehouse).collected_files("bronze.hr")
    assert register[0].duplicate_of.endswith("social_insurance_20240601.csv")
    collect(conf, "r4")
    assert bronze(conf).num_rows == good


def test_local_drop_archives_loaded_files(source_conf: Callable[..., Path], tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    for day in (1, 2):
        (drop / f"social_insurance_2024060{day}.csv").write_bytes(day_file(day)[0])
    conf = files_conf(
        source_conf, "local", str(drop), conn=False, extra="    archive_folder: done\n"
    )
    collect(conf)
    assert sorted(p.name for p in (drop / "done").iterdir()) == [
        "social_insurance_20240601.csv",
        "social_insurance_20240602.csv",
    ]
    assert not list(drop.glob("*.csv"))
    assert bronze(conf).num_rows == day_file(1)[1] + day_file(2)[1]


def test_undecodable_file_names_the_file_and_loads_nothing(
    source_conf: Callable[..., Path], tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "social_insurance_20240601.csv").write_bytes(day_file(1)[0])  # GBK bytes
    conf = files_conf(source_conf, "local", str(drop), conn=False, encoding="utf-8")
    with pytest.raises(FileFormatError, match=r"social_insurance_20240601.csv: cannot decode"):
        collect(conf)
    assert not Lakehouse(load_config(conf).lakehouse).exists("bronze.hr")


def test_ftp_transfer_killed_midway_then_rerun_loads_every_row_once(
    source_conf: Callable[..., Path], ftp_server: FtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = ftp_server.root
    (root / "outbox").mkdir()
    big, good_big = big_file(1, copies=200)
    (root / "outbox" / "social_insurance_20240601.csv").write_bytes(big)
    small, good_small = day_file(2, malformed=2)
    (root / "outbox" / "social_insurance_20240602.csv").write_bytes(small)
    monkeypatch.setenv("AIRFLOW_CONN_HR_DROP", ftp_server.url)
    conf = files_conf(source_conf, "ftp", "/outbox")

    from connectors.folders import ftp

    real_fetch = ftp.FtpFolder.fetch

    def fetch_then_outage(self, file, target, progress=None):  # noqa: ANN001, ANN202
        def cut(done: int) -> None:
            if done > 20_000:
                ftp_server.stop()
            if progress:
                progress(done)

        return real_fetch(self, file, target, cut)

    monkeypatch.setattr(ftp.FtpFolder, "fetch", fetch_then_outage)
    with pytest.raises(DropFolderError, match=r"source hr: download of social_insurance_20240601"):
        collect(conf)
    assert not Lakehouse(load_config(conf).lakehouse).exists("bronze.hr")
    partial = list((Path(os.environ["GOVLAKE_HOME"]) / "staging" / "bronze.hr").glob("*.part"))
    assert len(partial) == 1 and 20_000 < partial[0].stat().st_size < len(big)

    monkeypatch.setattr(ftp.FtpFolder, "fetch", real_fetch)
    ftp_server.start()
    collect(conf, "r2")
    rows = bronze(conf)
    assert rows.num_rows == good_big + good_small
    assert pc.count_distinct(rows.column("_batch_id")).as_py() == 2
    collect(conf, "r3")
    assert bronze(conf).num_rows == good_big + good_small


def test_ftp_wrong_password_and_missing_folder_are_named(
    source_conf: Callable[..., Path], ftp_server: FtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_HR_DROP", ftp_server.url.replace(ftp_server.password, "x"))
    conf = files_conf(source_conf, "ftp", "/outbox")
    with pytest.raises(DropFolderError, match=r"source hr: login refused by ftp://govlake@"):
        collect(conf)
    monkeypatch.setenv("AIRFLOW_CONN_HR_DROP", ftp_server.url)
    with pytest.raises(DropFolderError, match=r"source hr: folder not found: .*/outbox"):
        collect(conf)


def test_sftp_key_login_loads_gbk_files_and_a_killed_transfer_resumes(
    source_conf: Callable[..., Path], sftp_server: SshServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    big, good_big = big_file(1, copies=200)
    sftp_server.put("social_insurance_20240601.csv", big)
    monkeypatch.setenv("AIRFLOW_CONN_HR_DROP", sftp_server.connection(key=True))
    conf = files_conf(source_conf, "sftp", str(sftp_server.drop))

    from connectors.folders import sftp

    real_fetch = sftp.SftpFolder.fetch

    def fetch_then_outage(self, file, target, progress=None):  # noqa: ANN001, ANN202
        def cut(done: int) -> None:
            if done >= 1 << 20:
                sftp_server.stop()

        return real_fetch(self, file, target, cut)

    monkeypatch.setattr(sftp.SftpFolder, "fetch", fetch_then_outage)
    with pytest.raises(DropFolderError, match=r"source hr: download of social_insurance_20240601"):
        collect(conf)
    assert not Lakehouse(load_config(conf).lakehouse).exists("bronze.hr")

    monkeypatch.setattr(sftp.SftpFolder, "fetch", real_fetch)
    sftp_server.start()
    collect(conf, "r2")
    assert bronze(conf).num_rows == good_big
    collect(conf, "r3")
    assert bronze(conf).num_rows == good_big


def test_sftp_password_login_and_host_key_checking(
    source_conf: Callable[..., Path], sftp_server: SshServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, good = day_file(3)
    sftp_server.put("social_insurance_20240603.csv", data)
    conf = files_conf(source_conf, "sftp", str(sftp_server.drop))

    monkeypatch.setenv("AIRFLOW_CONN_HR_DROP", sftp_server.connection(pin_host_key=False))
    monkeypatch.setenv("HOME", str(sftp_server.home / "nobody"))  # no known_hosts to fall back on
    with pytest.raises(DropFolderError, match=r"source hr: unknown host key for sftp://"):
        collect(conf)

    wrong = sftp_server.connection(key=False).replace(sftp_server.password, "wrong")
    monkeypatch.setenv("AIRFLOW_CONN_HR_DROP", wrong)
    with pytest.raises(DropFolderError, match=r"source hr: login refused by"):
        collect(conf)

    monkeypatch.setenv("AIRFLOW_CONN_HR_DROP", sftp_server.connection(key=False))
    collect(conf)
    assert bronze(conf).num_rows == good

    conf = files_conf(source_conf, "sftp", "/no/such/folder")
    with pytest.raises(DropFolderError, match=r"source hr: folder not found: .*/no/such/folder"):
        collect(conf)


def test_ftp_server_takes_a_password_that_starts_with_a_dash(tmp_path: Path) -> None:
    import ftplib

    with FtpServer.serving(tmp_path, tmp_path / "ftp.log", password="-P-looks-like-an-option") as s:
        ftp = ftplib.FTP()
        ftp.connect(LOOPBACK, s.port, timeout=10)
        assert ftp.login(s.user, "-P-looks-like-an-option").startswith("230")
        ftp.quit()
