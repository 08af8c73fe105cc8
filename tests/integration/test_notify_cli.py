"""``govlake notify`` on a real SMTP server, and a worker killed in the middle of a send.

The crash is real: ``govlake notify work`` runs as its own process, the SMTP server accepts the
first message but holds its answer, and the process is killed with SIGKILL while it waits: the
message went out, the platform DB does not know it. The next worker takes the delivery back
after its lease and sends it again: the receiver holds every message, that one twice under
one ``Message-ID`` (the idempotency key, by which it drops the repeat), and no other twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from apps.cli.main import app
from govlake.platform_db.schema import notify_delivery
from govlake.principal import Principal
from govlake.runtime import Runtime
from services import audit
from services.notifications import Notice, notify
from tests.integration.notify_fixtures import people, platform_db_on
from tests.smtpd import SmtpServer, smtp_server

pytestmark = pytest.mark.integration
GOVLAKE = str(Path(sys.executable).with_name("govlake"))
NODE = {"node": "tax_node", "department": "税务局", "outcome": "已停用", "actor": "admin",
        "reason": "证书过期"}  # fmt: skip
# A short lease, so the crash is recovered within the test.
PLATFORM_YAML = "notifications: {lease_seconds: 2, timeout_seconds: 1}\n"


@pytest.fixture
def platform(
    conf_dir: Path, sign_in: Callable[..., Principal], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[dict[str, Runtime], SmtpServer]]:  # fmt: skip
    (conf_dir / "platform.yaml").write_text(PLATFORM_YAML, encoding="utf-8")
    acting = people(conf_dir, sign_in)
    with smtp_server(tmp_path) as server:
        monkeypatch.setenv("AIRFLOW_CONN_GOVLAKE_SMTP", server.url())
        yield acting, server


def _govlake(conf: Path, *args: str) -> tuple[int, str]:
    done = CliRunner().invoke(app, [*args, "--conf", str(conf)])
    return done.exit_code, done.output


def _rows(rt: Runtime) -> list[sa.Row[tuple[object, ...]]]:
    with rt.platform_db.connect() as conn:
        return list(conn.execute(sa.select(notify_delivery).order_by(notify_delivery.c.id)))


def test_the_commands(
    platform: tuple[dict[str, Runtime], SmtpServer], conf_dir: Path,
    sign_in: Callable[..., Principal],
) -> None:  # fmt: skip
    acting, server = platform
    admin = acting["admin"]
    sign_in(conf_dir, "admin")
    assert _govlake(conf_dir, "notify", "test", "email") == (
        0, "delivery 1 to admin@platform.gov.cn: sent\n"
    )  # fmt: skip
    assert [str(r.message["Subject"]) for r in server.received] == ["【测试】消息服务测试（email）"]
    notify(admin, Notice("node.status", "node:tax_node", ["org:tax"], NODE), by="admin")
    assert _govlake(conf_dir, "notify", "work") == (0, "deliveries: 0 recovered, 1 sent\n")
    code, shown = _govlake(conf_dir, "notify", "log", "--status", "sent", "--channel", "email")
    assert code == 0 and "admin@tax.gov.cn" in shown and "node.status" in shown
    code, shown = _govlake(conf_dir, "notify", "resend", "4")
    assert (code, shown) == (0, "delivery 5: pending, resend of 4 to tax.admin by email\n")
    code, shown = _govlake(conf_dir, "notify", "pending")
    assert code == 0 and "pending" in shown and "admin@tax.gov.cn" in shown
    assert _govlake(conf_dir, "notify", "log", "--status", "lost") == (
        1, "error: --status must be one of pending, sending, sent, failed, dead, not 'lost'\n"
    )  # fmt: skip
    code, shown = _govlake(conf_dir, "notify", "test", "webhook:nowhere")
    assert (code, shown) == (
        1,
        "error: no webhook 'nowhere' in conf/platform.yaml; declared: none\n",
    )
    sign_in(conf_dir, "tax.admin")
    code, shown = _govlake(conf_dir, "notify", "inbox", "--unread")
    assert code == 0 and "【通知】交换节点 tax_node 已停用" in shown
    assert _govlake(conf_dir, "notify", "read", "2") == (0, "2: read\n")
    assert _govlake(conf_dir, "notify", "work") == (
        1, "error: tax.admin may not send_messages organisation:platform: no role (held: "
        "org_admin@tax) and no grant allow it\n",
    )  # fmt: skip
    assert _govlake(conf_dir, "notify", "contact", "tax.analyst", "--email", "ly@tax.gov.cn") == (
        0, "tax.analyst: e-mail to ly@tax.gov.cn\n"
    )  # fmt: skip
    actions = {e.action for e in audit.events(admin, limit=100)}
    assert {"notify.test", "notify.work", "notify.log", "notify.resend", "notify.inbox",
            "notify.read", "notify.contact"} <= actions  # fmt: skip


def test_a_worker_killed_mid_send_loses_nothing_and_doubles_nothing(
    platform: tuple[dict[str, Runtime], SmtpServer], conf_dir: Path,
    sign_in: Callable[..., Principal],
) -> None:  # fmt: skip
    acting, server = platform
    admin = acting["admin"]
    for _ in range(3):  # three messages, two e-mails each (tax.admin and li.na)
        notice = Notice("node.status", "node:tax_node", ["org:tax", "user:li.na"], NODE)
        notify(admin, notice, by="admin")
    sign_in(conf_dir, "admin")
    server.hold.clear()  # the server accepts the first DATA and does not answer
    worker = subprocess.Popen(  # noqa: S603
        [GOVLAKE, "notify", "work", "--conf", str(conf_dir)],
        env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert server.held.wait(60), "the worker never reached DATA"
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(10) == -signal.SIGKILL
    finally:
        worker.kill()
        worker.communicate()
    [in_flight] = [r for r in _rows(admin) if r.status == "sending"]
    server.hold.set()
    assert server.message_ids() == [f"<{in_flight.idempotency_key}@govlake>"]
    time.sleep(2.1)  # the dead worker's lease runs out
    code, shown = _govlake(conf_dir, "notify", "work")
    assert (code, shown) == (0, "deliveries: 1 recovered, 6 sent\n")
    rows = [r for r in _rows(admin) if r.channel == "email"]
    assert {r.status for r in rows} == {"sent"}
    again = next(r for r in rows if r.id == in_flight.id)
    assert (again.attempts, again.last_error) == (2, None)
    keys = {f"<{r.idempotency_key}@govlake>" for r in rows}
    received = server.message_ids()
    lost = len(keys - set(received))
    repeats = len(received) - len(set(received))  # what the receiver drops by the key
    assert (len(rows), len(received), lost, repeats) == (6, 7, 0, 1)
    assert received.count(f"<{in_flight.idempotency_key}@govlake>") == 2


def test_the_worker_task_acts_as_the_message_service(
    platform: tuple[dict[str, Runtime], SmtpServer], conf_dir: Path,
    services_ready: Callable[[Path], None],
) -> None:  # fmt: skip
    from apps import tasks

    acting, server = platform
    services_ready(conf_dir)
    notify(acting["admin"], Notice("node.status", "node:tax_node", ["org:tax"], NODE), by="admin")
    assert tasks.send_messages(str(conf_dir)) == {"recovered": 0, "sent": 1}
    [done] = audit.events(acting["admin"], action="notify.work")
    assert done.principal == "notify.worker" and len(server.received) == 1


def test_a_failed_task_tells_who_may_fix_it(
    platform: tuple[dict[str, Runtime], SmtpServer], conf_dir: Path,
    sign_in: Callable[..., Principal],
) -> None:  # fmt: skip
    from apps import tasks
    from services.notifications import contacts, worker

    acting, server = platform
    admin = acting["admin"]
    sign_in(conf_dir, "ma.jun", "data_engineer", org="market_regulation", token=False)
    contacts.set_email(admin, "ma.jun", "ma.jun@amr.gov.cn")
    ingest, bronze = "market_registry_ingest", "bronze__enterprise_registry"
    tasks.task_failed(str(conf_dir), dag=ingest, task=bronze, run="scheduled__2030-03-01",
                      attempt=2, error="OperationalError: 连接超时")  # fmt: skip
    tasks.task_failed(str(conf_dir), dag="unknown_dag", task="t", run="r", attempt=1, error="x")
    worker.work(admin)
    got = {r.recipients[0]: r.message for r in server.received}
    assert sorted(got) == ["admin@platform.gov.cn", "ma.jun@amr.gov.cn"]
    failed = got["ma.jun@amr.gov.cn"]
    assert (
        failed["Subject"]
        == "【告警】任务 market_registry_ingest.bronze__enterprise_registry 运行失败"
    )
    assert failed.get_content().startswith(
        "流程 market_registry_ingest 的任务 bronze__enterprise_registry（运行 "
        "scheduled__2030-03-01，第 2 次尝试）失败：OperationalError: 连接超时\n"
    )
    assert got["admin@platform.gov.cn"]["Subject"] == "【告警】任务 unknown_dag.t 运行失败"


@pytest.fixture(params=["postgresql"])
def on_postgresql(
    request: pytest.FixtureRequest, conf_dir: Path, sign_in: Callable[..., Principal],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[dict[str, Runtime], SmtpServer]]:  # fmt: skip
    """The people on a PostgreSQL platform DB, a lease long enough for a loaded machine."""
    platform_db_on(request, monkeypatch)
    (conf_dir / "platform.yaml").write_text(
        "notifications: {lease_seconds: 120, timeout_seconds: 10}\n", encoding="utf-8"
    )
    acting = people(conf_dir, sign_in)
    with smtp_server(tmp_path) as server:
        monkeypatch.setenv("AIRFLOW_CONN_GOVLAKE_SMTP", server.url())
        yield acting, server


def test_two_worker_processes_on_postgresql_never_send_one_delivery_twice(
    on_postgresql: tuple[dict[str, Runtime], SmtpServer], conf_dir: Path,
    sign_in: Callable[..., Principal],
) -> None:  # fmt: skip
    acting, server = on_postgresql
    admin = acting["admin"]
    for _ in range(100):  # 200 e-mails
        notice = Notice("node.status", "node:tax_node", ["org:tax", "user:li.na"], NODE)
        notify(admin, notice, by="admin")
    sign_in(conf_dir, "admin")
    command = [GOVLAKE, "notify", "work", "--conf", str(conf_dir)]
    workers = [
        subprocess.Popen(command, env=os.environ.copy(), stdout=subprocess.PIPE,  # noqa: S603
                         stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]  # fmt: skip
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    sent = [int(out.split(" recovered, ")[1].split()[0]) for out, _ in outputs]
    assert sum(sent) == 200 and all(sent), f"each worker sent some: {sent}"
    rows = [r for r in _rows(admin) if r.channel == "email"]
    assert {r.status for r in rows} == {"sent"} and len({r.worker for r in rows}) == 2
    keys = {f"<{r.idempotency_key}@govlake>" for r in rows}
    received = server.message_ids()
    lost, doubled = len(keys - set(received)), len(received) - len(set(received))
    assert (len(rows), len(received), lost, doubled) == (200, 200, 0, 0)


def test_a_blocked_quality_gate_tells_who_builds_and_who_reviews(
    platform: tuple[dict[str, Runtime], SmtpServer], conf_dir: Path, registry_db: Path,
    sign_in: Callable[..., Principal],
) -> None:  # fmt: skip
    from apps.guarded import run_pipelines
    from jobs.quality.gate import QualityGateError
    from services.notifications import contacts, worker
    from tests.integration.test_quality import HUGE, _inject

    acting, server = platform
    admin = acting["admin"]
    datasets = conf_dir / "datasets" / "enterprise_registry.yaml"
    text = datasets.read_text(encoding="utf-8")
    datasets.write_text(text.replace("{policy: quarantine,", "{policy: fail,"), encoding="utf-8")
    _inject(registry_db, [HUGE])
    engineer = sign_in(conf_dir, "ma.jun", "data_engineer", org="market_regulation", token=False)
    contacts.set_email(admin, "ma.jun", "ma.jun@amr.gov.cn")
    rt = Runtime.load(conf_dir).acting_as(engineer)
    list(run_pipelines(rt, ["market_registry_ingest"], run_id="r1", progress=lambda _: None))
    [refined] = run_pipelines(rt, ["enterprise_registry_refine"], run_id="r2",
                              progress=lambda _: None)  # fmt: skip
    assert isinstance(refined.error, QualityGateError)  # the run reports it and goes on
    assert "registered_capital_yuan" in str(refined.error)
    worker.work(admin)
    got = {r.recipients[0]: r.message for r in server.received}
    assert sorted(got) == ["ma.jun@amr.gov.cn", "zhang.wei@amr.gov.cn"]
    blocked = got["ma.jun@amr.gov.cn"]
    assert blocked["Subject"] == (
        "【告警】数据表 silver.enterprise_registry 未通过质量校验，本次未提交"
    )
    assert "suite silver__enterprise_registry failed, nothing was committed" in (
        blocked.get_content()
    )
