"""Department exchange against real servers: sshd, pyftpdlib, PostgreSQL and MariaDB."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from apps.cli.main import app
from apps.local_servers import FtpServer
from connectors.folders.base import DropFolderError
from govlake.config.loader import load_config
from govlake.errors import GovlakeError
from govlake.lakehouse import Commit, Lakehouse
from govlake.platform_db.database import head_revision, open_platform_db
from govlake.runtime import Runtime
from jobs.exchange.deliver import deliver
from jobs.exchange.ledger import Ledger
from jobs.exchange.receipt import verify
from jobs.exchange.terms import DeliveryTerms
from services import audit
from services.identity import authentication, delegation, user_admin
from services.identity.user_admin import NewAccount
from tests.sshd import SshServer

pytestmark = pytest.mark.integration
OWN = DeliveryTerms()  # node dept is the platform's, which owns bronze.rows: no grant needed

SOURCE = """\
name: rows
kind: files
title: 测试数据
owner: platform
transport: local
folder: /nonexistent
streams: [{name: rows, pattern: "*.csv", format: csv}]
"""
NODES = """\
nodes:
  - name: dept
    department: platform
    title: 测试部门节点
    endpoints:
      - {{name: inbox, kind: files, conn_id: dept_files, folder: "{folder}"}}
      - {{name: db, kind: database, conn_id: dept_db{schema}}}
"""
SUBSCRIPTION = """\
  - name: {name}
    title: test flow
    dataset: bronze.rows
    node: dept
    endpoint: {endpoint}
    mode: {mode}
{extra}"""


def _rows(start: int, count: int, label: str = "企业") -> pa.Table:
    ids = list(range(start, start + count))
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "name": [f"{label}{i}有限公司" for i in ids],
            "amount": pa.array([Decimal(i) / 4 for i in ids], pa.decimal128(18, 2)),
            "day": [date(2026, 1, 1 + i % 28) for i in ids],
            "at": pa.array([datetime(2026, 5, 1, tzinfo=UTC)] * count, pa.timestamp("us", "UTC")),
        }
    )


@pytest.fixture
def exchange_conf(source_conf: Callable[..., Path]) -> Callable[..., Path]:
    """A conf with ``bronze.rows`` (keys id), node ``dept`` and the given subscriptions."""

    def write(subscriptions: list[dict[str, str]], folder: str = "/", schema: str = "") -> Path:
        conf = source_conf("rows", SOURCE)
        (conf / "exchange").mkdir(exist_ok=True)
        extra = f", database_schema: {schema}" if schema else ""
        (conf / "exchange" / "nodes.yaml").write_text(
            NODES.format(folder=folder, schema=extra), encoding="utf-8"
        )
        listed = "".join(SUBSCRIPTION.format(**{"extra": "", **s}) for s in subscriptions)
        (conf / "exchange" / "subscriptions.yaml").write_text(
            "subscriptions:\n" + listed, encoding="utf-8"
        )
        return conf

    return write


def _append(conf: Path, rows: pa.Table, batch: str) -> None:
    lake = Lakehouse(load_config(conf).lakehouse)
    lake.write("bronze.rows", rows, Commit("test", "r", batch, "test"), mode="append")


def _approve(conf: Path) -> Ledger:
    config = load_config(conf)
    ledger = Ledger(open_platform_db(config))
    ledger.sync_nodes(config)
    ledger.set_status("dept", "approved", actor="tester", reason="test")
    return ledger


def test_sftp_gbk_file_with_manifest_once_then_resend(
    exchange_conf: Callable[..., Path], sftp_server: SshServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = exchange_conf(
        [
            {
                "name": "to_dept",
                "endpoint": "inbox",
                "mode": "full",
                "extra": "    file: {format: csv, encoding: gbk}\n",
            }
        ],  # fmt: skip
        folder=str(sftp_server.drop),
    )
    monkeypatch.setenv("AIRFLOW_CONN_DEPT_FILES", sftp_server.connection(key=True))
    _append(conf, _rows(0, 1000), "b1")
    ledger = _approve(conf)
    config = load_config(conf)

    done = deliver(Runtime(config), "to_dept", terms=OWN)
    assert (done.status, done.rows) == ("delivered", 1000)
    delivered = sftp_server.drop / "to_dept__v0.csv"
    text = delivered.read_bytes().decode("gbk")
    assert text.splitlines()[0] == '"id","name","amount","day","at"'
    assert '"企业7有限公司",1.75,2026-01-08' in text
    manifest = json.loads((sftp_server.drop / "to_dept__v0.csv.manifest.json").read_text())
    assert manifest["rows"] == 1000 and manifest["encoding"] == "gbk"
    assert manifest["batch_id"] == "to_dept@full-0"
    assert verify(sftp_server.drop) == []
    assert sorted(p.name for p in sftp_server.drop.iterdir()) == [
        "to_dept__v0.csv",
        "to_dept__v0.csv.manifest.json",
    ]

    assert deliver(Runtime(config), "to_dept", terms=OWN).status == "already_delivered"
    again = deliver(Runtime(config), "to_dept", terms=OWN, resend="last")
    assert (again.status, again.batch_id) == ("delivered", "to_dept@full-0")
    attempts = ledger.attempts("to_dept")
    assert [(a.status, a.attempt, a.trigger) for a in attempts] == [
        ("delivered", 1, "schedule"),
        ("delivered", 2, "resend"),
    ]
    assert attempts[0].checksum == manifest["sha256"] and attempts[0].bytes > 0

    delivered.write_bytes(delivered.read_bytes()[:-10])
    (problem,) = verify(delivered)
    assert ": bytes: " in problem and ", the manifest says" in problem


def test_sftp_server_killed_mid_upload_then_retry_leaves_one_complete_file(
    exchange_conf: Callable[..., Path], sftp_server: SshServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = exchange_conf(
        [{"name": "to_dept", "endpoint": "inbox", "mode": "full"}], folder=str(sftp_server.drop)
    )
    monkeypatch.setenv("AIRFLOW_CONN_DEPT_FILES", sftp_server.connection(key=True))
    _append(conf, _rows(0, 200_000), "b1")
    ledger = _approve(conf)
    from connectors.folders import sftp

    real_open = sftp.paramiko.SFTPClient.open

    def open_then_outage(self, name, mode="r", bufsize=-1):  # noqa: ANN001, ANN202
        handle = real_open(self, name, mode, bufsize)
        if "w" in mode:
            real_write, sent = handle.write, [0]

            def write(data: bytes) -> None:
                real_write(data)
                sent[0] += len(data)
                if sent[0] >= 2 << 20:
                    sftp_server.stop()

            handle.write = write
        return handle

    monkeypatch.setattr(sftp.paramiko.SFTPClient, "open", open_then_outage)
    with pytest.raises(DropFolderError, match=r"subscription to_dept: upload of to_dept__v0.csv"):
        deliver(Runtime.load(conf), "to_dept", terms=OWN)
    assert not (sftp_server.drop / "to_dept__v0.csv").exists(), "no partial file under the name"
    (failed,) = ledger.attempts("to_dept")
    assert failed.status == "failed" and "upload of to_dept__v0.csv" in failed.error

    monkeypatch.setattr(sftp.paramiko.SFTPClient, "open", real_open)
    sftp_server.start()
    done = deliver(Runtime.load(conf), "to_dept", terms=OWN)
    assert (done.status, done.rows) == ("delivered", 200_000)
    assert sorted(p.name for p in sftp_server.drop.iterdir() if not p.name.startswith(".")) == [
        "to_dept__v0.csv",
        "to_dept__v0.csv.manifest.json",
    ]
    assert verify(sftp_server.drop) == []
    lines = (sftp_server.drop / "to_dept__v0.csv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 200_001
    assert [a.status for a in ledger.attempts("to_dept")] == ["failed", "delivered"]


def test_ftp_incremental_jsonl_sends_only_new_rows(
    exchange_conf: Callable[..., Path], ftp_server: FtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = ftp_server.root
    (root / "inbox").mkdir()
    conf = exchange_conf(
        [
            {
                "name": "changes",
                "endpoint": "inbox",
                "mode": "incremental",
                "extra": "    file: {format: jsonl}\n    columns: [id, name]\n"
                '    filter: "id % 2 = 0"\n',
            }
        ],  # fmt: skip
        folder="/inbox",
    )
    monkeypatch.setenv("AIRFLOW_CONN_DEPT_FILES", ftp_server.url)
    _append(conf, _rows(0, 10), "b1")
    _approve(conf)
    assert deliver(Runtime.load(conf), "changes", terms=OWN).rows == 5
    _append(conf, _rows(10, 10), "b2")
    second = deliver(Runtime.load(conf), "changes", terms=OWN)
    assert (second.status, second.batch_id, second.rows) == ("delivered", "changes@0-1", 5)
    lines = (root / "inbox" / "changes__v1-v1.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines][0] == {"id": 10, "name": "企业10有限公司"}
    assert [json.loads(line)["id"] for line in lines] == [10, 12, 14, 16, 18]
    assert verify(root / "inbox") == []
    assert deliver(Runtime.load(conf), "changes", terms=OWN).status == "already_delivered"
    assert deliver(Runtime.load(conf), "changes", terms=OWN, resend="changes@full-0").rows == 5
    again = deliver(
        Runtime.load(conf), "changes", terms=OWN
    )  # the older batch resent moves nothing back
    assert (again.status, again.batch_id) == ("already_delivered", "changes@0-1")


def test_postgres_push_fails_whole_then_upserts_every_row_once(
    exchange_conf: Callable[..., Path],
    postgres_schema: tuple[sa.Engine, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, schema = postgres_schema
    conf = exchange_conf(
        [{"name": "to_db", "endpoint": "db", "mode": "full", "extra": "    table: rows_copy\n"}],
        schema=schema,
    )
    monkeypatch.setenv("AIRFLOW_CONN_DEPT_DB", engine.url.render_as_string(hide_password=False))
    _append(conf, _rows(0, 3000), "b1")
    ledger = _approve(conf)
    with engine.begin() as db:  # the receiver's table refuses the last rows: nothing commits
        db.execute(sa.text(
            f"CREATE TABLE {schema}.rows_copy (id bigint PRIMARY KEY CHECK (id < 2990), "
            "name text, amount numeric(18,2), day date, at timestamptz)"
        ))  # fmt: skip
    with pytest.raises(sa.exc.IntegrityError):
        deliver(Runtime.load(conf), "to_db", terms=OWN)
    count = f"SELECT count(*) FROM {schema}.rows_copy"
    with engine.connect() as db:
        assert db.scalar(sa.text(count)) == 0
    with engine.begin() as db:
        db.execute(sa.text(f"ALTER TABLE {schema}.rows_copy DROP CONSTRAINT rows_copy_id_check"))
    assert deliver(Runtime.load(conf), "to_db", terms=OWN).rows == 3000
    assert deliver(Runtime.load(conf), "to_db", terms=OWN, resend="last").rows == 3000
    later = _rows(3000, 10, label="新企业")
    later = later.set_column(1, "name", pa.array(["", None] + later["name"].to_pylist()[2:]))
    _append(conf, later, "b2")
    assert deliver(Runtime.load(conf), "to_db", terms=OWN).rows == 3010
    with engine.connect() as db:
        assert db.scalar(sa.text(count)) == 3010
        blank = db.execute(sa.text(f"SELECT name FROM {schema}.rows_copy WHERE id IN (3000, 3001)"))
        assert sorted(blank.scalars(), key=str) == ["", None], "empty text and NULL stay apart"
        name = db.scalar(sa.text(f"SELECT name FROM {schema}.rows_copy WHERE id = 3005"))
        amount = db.scalar(sa.text(f"SELECT amount FROM {schema}.rows_copy WHERE id = 7"))
    assert (name, amount) == ("新企业3005有限公司", Decimal("1.75"))
    assert [a.status for a in ledger.attempts("to_db")] == [
        "failed", "delivered", "delivered", "delivered"
    ]  # fmt: skip


def test_mariadb_table_is_created_and_upserted(
    exchange_conf: Callable[..., Path],
    mariadb_database: tuple[sa.Engine, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, _ = mariadb_database
    conf = exchange_conf([{"name": "to_db", "endpoint": "db", "mode": "incremental"}])
    monkeypatch.setenv("AIRFLOW_CONN_DEPT_DB", engine.url.render_as_string(hide_password=False))
    _append(conf, _rows(0, 500), "b1")
    _approve(conf)
    deliver(Runtime.load(conf), "to_db", terms=OWN)
    _append(conf, _rows(400, 200, label="更新"), "b2")  # 100 updates, 100 new
    assert deliver(Runtime.load(conf), "to_db", terms=OWN).rows == 200
    with engine.connect() as db:
        assert db.scalar(sa.text("SELECT count(*) FROM `rows`")) == 600
        assert db.scalar(sa.text("SELECT name FROM `rows` WHERE id = 450")) == "更新450有限公司"
        columns = {c["name"]: str(c["type"]) for c in sa.inspect(db).get_columns("rows")}
    assert columns["amount"] == "DECIMAL(18, 2)" and columns["day"] == "DATE"


def test_disabled_node_gets_nothing_and_the_ledger_says_why(
    exchange_conf: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "dept"
    conf = exchange_conf([{"name": "to_dept", "endpoint": "inbox", "mode": "full"}])
    monkeypatch.setenv("AIRFLOW_CONN_DEPT_FILES", f"file://{inbox}")
    _append(conf, _rows(0, 10), "b1")
    config = load_config(conf)
    assert (
        deliver(Runtime(config), "to_dept", terms=OWN).status == "refused"
    )  # registered, not approved yet
    ledger = _approve(conf)
    ledger.set_status("dept", "disabled", actor="tester", reason="certificate expired")
    with pytest.raises(GovlakeError, match="exchange node dept is disabled; it cannot become"):
        ledger.set_status("dept", "disabled", actor="tester", reason=None)
    assert deliver(Runtime(config), "to_dept", terms=OWN).status == "refused"
    assert not any(inbox.rglob("*.csv"))
    errors = [a.error for a in ledger.attempts("to_dept")]
    assert errors == ["node dept is registered, not approved", "node dept is disabled"]
    assert [e.action for e in ledger.events("dept")] == ["registered", "approved", "disabled"]

    runner = CliRunner()
    _sign_in(conf, monkeypatch, "operator", "exchange_operator")
    result = runner.invoke(app, ["exchange", "report", "--conf", str(conf)])
    assert result.exit_code == 0, result.output
    volume, _, failures = result.output.partition("failed and refused attempts")
    (line,) = [row for row in volume.splitlines() if " dept " in row]
    cells = [c.strip() for c in line.strip("│ ").split("│")]
    assert cells[1:] == ["dept", "0", "0", "0", "0", "2"], "two refused, nothing delivered"
    reasons = [row for row in failures.splitlines() if " refused " in row]
    assert len(reasons) == 2 and "not approved" in reasons[0] and "is disabled" in reasons[1]
    approve = runner.invoke(app, ["exchange", "nodes", "approve", "dept", "--conf", str(conf)])
    assert approve.exit_code == 0 and "dept: enabled" in approve.output
    assert ledger.events("dept")[-1].actor == "operator"
    assert deliver(Runtime(config), "to_dept", terms=OWN).status == "delivered"
    check = runner.invoke(app, ["exchange", "verify", str(inbox)])
    assert check.exit_code == 0, check.output
    assert sorted(os.listdir(inbox)) == ["to_dept__v0.csv", "to_dept__v0.csv.manifest.json"]


PASSWORD = "Correct-Horse-Battery-42"


def _sign_in(conf: Path, monkeypatch: pytest.MonkeyPatch, username: str, *roles: str) -> None:
    """Add ``username`` of the platform with ``roles`` (as the first administrator), log in."""
    monkeypatch.setenv("GOVLAKE_TOKEN_KEY", "a-token-signing-key-for-the-exchange-tests-0123")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(conf.parent / "config"))
    rt = Runtime.load(conf)
    if not user_admin.bootstrapped(rt):
        user_admin.bootstrap(rt, NewAccount("admin", "admin", "platform", password=PASSWORD + "!"))
    admin = rt.acting_as(authentication.login(rt, "admin", PASSWORD + "!").principal)
    user_admin.add_user(admin, NewAccount(username, username, "platform", password=PASSWORD))
    for role in roles:
        delegation.assign_role(admin, username, role)
    login = ["login", username, "--password-stdin", "--conf", str(conf)]
    assert CliRunner().invoke(app, login, input=PASSWORD + "\n").exit_code == 0


def test_nodes_and_deliveries_need_their_verbs(
    exchange_conf: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_DEPT_FILES", f"file://{tmp_path / 'dept'}")
    conf = exchange_conf([{"name": "to_dept", "endpoint": "inbox", "mode": "full"}])
    _append(conf, _rows(0, 10), "b1")
    runner = CliRunner()

    def govlake(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, [*args, "--conf", str(conf)])
        return result.exit_code, result.output

    rt = Runtime.load(conf)
    code, output = govlake("exchange", "nodes", "approve", "dept")
    assert code == 1 and "not logged in: run govlake login" in output
    _sign_in(conf, monkeypatch, "steward", "data_steward")
    for args, verb in (
        (("exchange", "nodes", "approve", "dept"), "approve_node node:dept"),
        (("exchange", "deliver", "to_dept"), "deliver node:dept"),
        (("exchange", "resend", "to_dept"), "deliver node:dept"),
    ):
        code, output = govlake(*args)
        assert code == 1 and f"steward may not {verb}" in output, output
    ledger = Ledger(rt.platform_db)
    assert ledger.nodes() == [] and ledger.attempts("to_dept") == []  # nothing was touched
    refused = [(e.action, e.object) for e in audit.events(rt, user="steward", outcome="refused")]
    assert refused[::-1] == [
        ("access.denied", "node:dept"),
        ("exchange.node_approve", "node:dept"),
        ("access.denied", "node:dept"),
        ("exchange.deliver", "subscription:to_dept"),
        ("access.denied", "node:dept"),
        ("exchange.resend", "subscription:to_dept"),
    ]

    _sign_in(conf, monkeypatch, "operator", "exchange_operator")
    assert govlake("exchange", "nodes", "approve", "dept")[0] == 0
    code, output = govlake("exchange", "deliver", "to_dept")
    assert code == 0 and output.endswith("to_dept: delivered\n"), output
    code, output = govlake("exchange", "nodes", "disable", "dept")
    assert code == 0 and "dept: disabled" in output
    assert [(e.action, e.actor) for e in ledger.events("dept")] == [
        ("registered", "conf"),
        ("approved", "operator"),
        ("disabled", "operator"),
    ]
    done = [(e.action, e.outcome) for e in audit.events(rt, user="operator")]
    assert done[::-1][-3:] == [
        ("exchange.node_approve", "success"),
        ("exchange.deliver", "success"),
        ("exchange.node_disable", "success"),
    ]
    delivered = audit.events(rt, action="exchange.deliver", outcome="success")[0]
    assert (delivered.details["status"], delivered.details["rows"]) == ("delivered", 10)

    code, output = govlake("exchange", "resend", "to_dept")  # the node is disabled now
    assert code == 1
    assert "to_dept: nothing sent (to_dept@full-0): node dept is disabled" in output
    (refusal,) = audit.events(rt, action="exchange.resend", user="operator")
    assert refusal.outcome == "refused" and "node dept is disabled" in refusal.details["reason"]
    assert audit.verify(rt).ok


def test_ledger_on_postgresql(
    exchange_conf: Callable[..., Path],
    postgres_schema: tuple[sa.Engine, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, schema = postgres_schema
    url = engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("AIRFLOW_CONN_GOVLAKE_PLATFORM", f"{url}?options=-csearch_path%3D{schema}")
    monkeypatch.setenv("AIRFLOW_CONN_DEPT_FILES", f"file://{tmp_path / 'dept'}")
    conf = exchange_conf([{"name": "to_dept", "endpoint": "inbox", "mode": "full"}])
    _append(conf, _rows(0, 100), "b1")
    _approve(conf)
    assert deliver(Runtime.load(conf), "to_dept", terms=OWN).rows == 100
    with engine.connect() as db:
        tables = set(sa.inspect(db).get_table_names(schema=schema))
        version = db.scalar(sa.text(f"SELECT version_num FROM {schema}.alembic_version"))
    assert {"exchange_node", "exchange_node_event", "exchange_delivery"} <= tables
    assert version == head_revision()
    (day,) = Ledger(open_platform_db(load_config(conf))).report(node="dept")
    assert (day.delivered, day.rows, day.failed) == (1, 100, 0)
    assert day.day == datetime.now(UTC).date().isoformat()


@pytest.mark.parametrize("fmt", ["parquet", "xlsx"])
def test_parquet_and_excel_files_carry_every_row(
    exchange_conf: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    inbox = tmp_path / "dept"
    conf = exchange_conf(
        [
            {
                "name": "to_dept",
                "endpoint": "inbox",
                "mode": "full",
                "extra": f"    file: {{format: {fmt}}}\n",
            }
        ]  # fmt: skip
    )
    monkeypatch.setenv("AIRFLOW_CONN_DEPT_FILES", f"file://{inbox}")
    rows = _rows(0, 300)
    _append(conf, rows, "b1")
    _approve(conf)
    assert deliver(Runtime.load(conf), "to_dept", terms=OWN).rows == 300
    assert verify(inbox) == []
    delivered = inbox / f"to_dept__v0.{fmt}"
    if fmt == "parquet":
        import pyarrow.parquet as pq

        assert pq.read_table(delivered).equals(rows)
        return
    from openpyxl import load_workbook

    book = load_workbook(delivered, read_only=True)
    values = list(book["data"].iter_rows(values_only=True))
    book.close()  # read-only workbooks keep the file open until closed
    assert values[0] == ("id", "name", "amount", "day", "at")
    assert len(values) == 301 and values[8][:3] == (7, "企业7有限公司", "1.75")


def test_refused_resends_exit_1_and_the_report_names_each_reason_and_who(
    exchange_conf: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_DEPT_FILES", f"file://{tmp_path / 'dept'}")
    conf = exchange_conf([{"name": "to_dept", "endpoint": "inbox", "mode": "full"}])
    _append(conf, _rows(0, 10), "b1")
    _sign_in(conf, monkeypatch, "operator", "exchange_operator")
    runner = CliRunner()

    def govlake(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, [*args, "--conf", str(conf)])
        return result.exit_code, result.output

    code, output = govlake("exchange", "resend", "to_dept")
    assert (code, output) == (1, "error: subscription to_dept: nothing was delivered yet to "
                                 "resend\n")  # fmt: skip
    assert govlake("exchange", "nodes", "approve", "dept")[0] == 0
    assert govlake("exchange", "deliver", "to_dept")[0] == 0
    for batch, why in (
        ("to_dept@full-7", "batch to_dept@full-7 was never delivered; resend takes a delivered "
                           "batch (the last is to_dept@full-0)"),
        ("to_dept@3-1", "batch to_dept@3-1 was never delivered"),
        ("other@full-0", "batch other@full-0 belongs to subscription other"),
        ("to_dept", "not a batch id: 'to_dept' (expected name@from-to)"),
    ):  # fmt: skip
        code, output = govlake("exchange", "resend", "to_dept", "--batch", batch)
        assert code == 1 and len(output.splitlines()) == 1 and why in output, output
    assert govlake("exchange", "nodes", "disable", "dept", "--reason", "audit")[0] == 0
    code, output = govlake("exchange", "resend", "to_dept")
    assert code == 1
    assert output.splitlines()[-1] == (
        "error: to_dept: nothing sent (to_dept@full-0): node dept is disabled"
    )
    code, output = govlake("exchange", "report")
    assert code == 0, output
    (refused,) = [row for row in output.partition("failed and refused")[2].splitlines()
                  if " refused " in row]  # fmt: skip
    cells = [c.strip() for c in refused.strip("│ ").split("│")]
    assert cells[1:] == ["to_dept", "dept", "to_dept@full-0", "operator", "refused",
                         "node dept is disabled"]  # fmt: skip
    rt = Runtime.load(conf)
    resends = audit.events(rt, action="exchange.resend", user="operator")
    assert [e.outcome for e in resends] == ["refused"] * 6
    assert [a.actor for a in Ledger(rt.platform_db).attempts("to_dept")] == ["operator"] * 2
