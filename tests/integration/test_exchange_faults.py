"""Deliveries under concurrency and crashes: real ``govlake`` processes, real servers.

Two processes deliver (or resend) one subscription at once, five trials each: one holds the
subscription's lease and delivers, the other exits 1 saying so, and the file under its final
name is always the whole batch with the checksum the ledger records. A process killed
(SIGKILL) at each step of a delivery leaves no partial file under a final name and no attempt
``started`` for good; the next run reconciles with the target: a batch whose manifest is on
the server is not sent again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from apps.local_servers import FtpServer
from govlake.config.loader import load_config
from govlake.digest import file_sha256
from govlake.lakehouse import Lakehouse
from govlake.principal import Principal
from govlake.runtime import Runtime
from jobs.exchange.ledger import DeliveryRecord, Ledger
from jobs.exchange.receipt import verify
from services import audit
from tests.conftest import REPO
from tests.integration.test_exchange import NODES, SOURCE, SUBSCRIPTION, _append, _rows
from tests.sshd import SshServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRIALS = 5
ROWS = 150_000
GOVLAKE = Path(sys.executable).parent / "govlake"


@pytest.fixture
def flow(
    source_conf: Callable[..., Path], sign_in: Callable[..., Principal]
) -> Callable[..., Path]:
    """``flow(folder, endpoint="inbox")``: subscription ``to_dept`` of ``bronze.rows`` (keys
    id) to node ``dept``, approved by the signed-in exchange operator, who then delivers."""

    def write(folder: str = "/", endpoint: str = "inbox", schema: str = "") -> Path:
        conf = source_conf("rows", SOURCE)
        (conf / "exchange").mkdir(exist_ok=True)
        extra = f", database_schema: {schema}" if schema else ""
        (conf / "exchange" / "nodes.yaml").write_text(
            NODES.format(folder=folder, schema=extra), encoding="utf-8"
        )
        subscription = SUBSCRIPTION.format(
            name="to_dept",
            endpoint=endpoint,
            mode="full",
            extra="    table: rows_copy\n" if endpoint == "db" else "",
        )
        (conf / "exchange" / "subscriptions.yaml").write_text(
            "subscriptions:\n" + subscription, encoding="utf-8"
        )
        sign_in(conf, "operator", "exchange_operator")
        approved = govlake("exchange", "nodes", "approve", "dept", "--conf", str(conf))
        assert approved.returncode == 0, approved.stderr
        return conf

    return write


def govlake(*args: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real command (killed at ``crash_at``, see ``tests.exchange_faults``)."""
    command = [str(GOVLAKE), *args]
    if crash_at:
        command = [sys.executable, "-m", "tests.exchange_faults", crash_at, *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)


def twice_at_once(*args: str) -> list[subprocess.CompletedProcess[str]]:
    """Start the command twice at the same moment; both results, once both ended."""
    started = [
        subprocess.Popen([str(GOVLAKE), *args], cwd=REPO, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]  # fmt: skip
    results = []
    for process in started:
        out, err = process.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return results


def _attempts(conf: Path) -> list[DeliveryRecord]:
    return Ledger(Runtime.load(conf).platform_db).attempts("to_dept")


def _visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def _data_rows(path: Path) -> int:
    data = path.read_bytes()
    assert b"\x00" not in data, f"{path.name} holds NUL bytes"
    return data.count(b"\n") - 1


@pytest.fixture
def sftp_drop(sftp_server: SshServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The SFTP server's drop folder, reached by connection ``dept_files``."""
    monkeypatch.setenv("AIRFLOW_CONN_DEPT_FILES", sftp_server.connection(key=True))
    return sftp_server.drop


def _losers_say_so(results: list[subprocess.CompletedProcess[str]]) -> int:
    """How many of ``results`` lost the lease; each loser exited 1 with one line saying why."""
    lost = 0
    for result in results:
        if result.returncode == 0:
            continue
        assert result.returncode == 1, result.stderr
        (line,) = [x for x in result.stderr.strip().splitlines() if not x.startswith("progress: ")]
        assert "subscription to_dept: another delivery holds it" in line, line
        lost += 1
    return lost


def test_two_resends_at_once_never_share_working_files(
    flow: Callable[..., Path], sftp_drop: Path
) -> None:
    conf = flow(folder=str(sftp_drop))
    _append(conf, _rows(0, ROWS), "b1")
    assert govlake("exchange", "deliver", "to_dept", "--conf", str(conf)).returncode == 0
    final = sftp_drop / "to_dept__v0.csv"
    corrupt = lost = 0
    for _ in range(TRIALS):
        results = twice_at_once("exchange", "resend", "to_dept", "--conf", str(conf))
        lost += _losers_say_so(results)
        assert any(r.returncode == 0 for r in results), [r.stderr for r in results]
        problems = verify(sftp_drop)
        rows = _data_rows(final) if b"\x00" not in final.read_bytes() else -1
        corrupt += bool(problems) or rows != ROWS
        delivered = [a for a in _attempts(conf) if a.status == "delivered"]
        assert delivered[-1].checksum == file_sha256(final), "the ledger holds what was sent"
    assert corrupt == 0, f"{corrupt} of {TRIALS} trials left a corrupt file"
    assert _visible(sftp_drop) == ["to_dept__v0.csv", "to_dept__v0.csv.manifest.json"]
    assert {(a.status, a.actor) for a in _attempts(conf)} == {("delivered", "operator")}
    refused = audit.events(Runtime.load(conf), action="exchange.resend", outcome="refused")
    assert len(refused) == lost, "each loser is audited, with its reason"
    assert all("another delivery holds it" in e.details["reason"] for e in refused)
    print(f"resend twice at once: {TRIALS} trials, {lost} lost the lease, 0 corrupt")


def test_two_deliveries_at_once_send_each_batch_once(
    flow: Callable[..., Path], sftp_drop: Path
) -> None:
    conf = flow(folder=str(sftp_drop))
    lake = Lakehouse(load_config(conf).lakehouse)
    lost = 0
    for trial in range(TRIALS):
        _append(conf, _rows(trial * 20_000, 20_000), f"b{trial}")
        results = twice_at_once("exchange", "deliver", "to_dept", "--conf", str(conf))
        lost += _losers_say_so(results)
        version = lake.table("bronze.rows").version()
        batch = [a for a in _attempts(conf) if a.batch_id == f"to_dept@full-{version}"]
        assert [a.status for a in batch] == ["delivered"], [r.stderr for r in results]
        assert _data_rows(sftp_drop / f"to_dept__v{version}.csv") == (trial + 1) * 20_000
    assert verify(sftp_drop) == []
    print(f"deliver twice at once: {TRIALS} trials, {lost} lost the lease, 0 doubled")


@pytest.mark.parametrize("step", ["mid-upload", "before-rename", "before-manifest"])
def test_killed_before_the_manifest_the_next_run_sends_the_batch_whole(
    flow: Callable[..., Path], sftp_drop: Path, step: str
) -> None:
    conf = flow(folder=str(sftp_drop))
    _append(conf, _rows(0, ROWS), "b1")
    crashed = govlake("exchange", "deliver", "to_dept", "--conf", str(conf), crash_at=step)
    assert crashed.returncode == -9, crashed.stderr
    assert "to_dept__v0.csv.manifest.json" not in _visible(sftp_drop)
    if step != "before-manifest":
        assert _visible(sftp_drop) == [], "no partial file under a final name"
        assert len(list(sftp_drop.glob(".to_dept__v0.csv.*.part"))) == 1

    again = govlake("exchange", "deliver", "to_dept", "--conf", str(conf))
    assert again.returncode == 0, again.stderr
    assert sorted(os.listdir(sftp_drop)) == ["to_dept__v0.csv", "to_dept__v0.csv.manifest.json"]
    assert verify(sftp_drop) == [] and _data_rows(sftp_drop / "to_dept__v0.csv") == ROWS
    first, second = _attempts(conf)
    assert (first.status, second.status) == ("failed", "delivered")
    assert first.error is not None and first.error.startswith("interrupted")


@pytest.mark.parametrize(("server", "receiver"), [("sftp", "leaves"), ("ftp", "takes")])
def test_killed_after_the_manifest_the_batch_is_not_sent_again(
    flow: Callable[..., Path],
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    server: str,
    receiver: str,
) -> None:
    if server == "sftp":
        drop, folder = request.getfixturevalue("sftp_drop"), None
    else:
        ftp: FtpServer = request.getfixturevalue("ftp_server")
        drop, folder = ftp.root / "inbox", "/inbox"
        drop.mkdir()
        monkeypatch.setenv("AIRFLOW_CONN_DEPT_FILES", ftp.url)
    conf = flow(folder=folder or str(drop))
    _append(conf, _rows(0, ROWS), "b1")
    args = ("exchange", "deliver", "to_dept", "--conf", str(conf))
    assert govlake(*args, crash_at="after-manifest").returncode == -9
    assert verify(drop) == []
    received = drop.parent / "received"  # the receiver takes each complete file away, or not
    received.mkdir()
    for name in _visible(drop):
        (shutil.move if receiver == "takes" else shutil.copy2)(drop / name, received / name)
    before = {p.name: p.stat().st_mtime_ns for p in drop.iterdir()}

    again = govlake(*args)
    assert again.returncode == 0, again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in drop.iterdir()} == before, "sent again"
    assert "already delivered" in again.stdout
    (attempt,) = _attempts(conf)
    assert attempt.status == "delivered" and attempt.rows == ROWS
    assert attempt.checksum == file_sha256(received / "to_dept__v0.csv")
    latest = audit.events(Runtime.load(conf), action="exchange.deliver")[0]
    assert latest.details["reconciled"] == [[attempt.id, "to_dept@full-0", "delivered"]]


def test_killed_after_a_table_push_commits_no_row_is_doubled_or_left_started(
    flow: Callable[..., Path],
    postgres_schema: tuple[sa.Engine, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, schema = postgres_schema
    monkeypatch.setenv("AIRFLOW_CONN_DEPT_DB", engine.url.render_as_string(hide_password=False))
    conf = flow(endpoint="db", schema=schema)
    _append(conf, _rows(0, 5000), "b1")
    args = ("exchange", "deliver", "to_dept", "--conf", str(conf))
    assert govlake(*args, crash_at="after-push").returncode == -9
    assert govlake(*args).returncode == 0
    with engine.connect() as db:
        counts = db.execute(
            sa.text(f"SELECT count(*), count(DISTINCT id) FROM {schema}.rows_copy")
        ).one()
    assert tuple(counts) == (5000, 5000)
    first, second = _attempts(conf)
    assert (first.status, second.status) == ("failed", "delivered")
    assert first.error is not None and first.error.startswith("interrupted")
