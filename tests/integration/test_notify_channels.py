"""The worker against real servers: aiosmtpd on loopback (plain, STARTTLS, SMTPS, with a login)
and an HTTP receiver that checks webhook signatures.

Each message arrives exactly as expected, in Chinese, with its headers; a server that is down
leaves its deliveries waiting, and when it is back each goes out once; a resend is a new
delivery linked to the original; two workers at once on PostgreSQL never send one delivery
twice. Counts are by the idempotency key each message carries (its ``Message-ID``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from govlake.errors import GovlakeError
from govlake.platform_db.schema import notify_delivery
from govlake.principal import Principal
from govlake.runtime import Runtime
from services import audit
from services.identity.policy import AccessDenied
from services.identity.settings import as_utc, utc_now
from services.notifications import Notice, manage, notify, worker
from tests.integration.notify_fixtures import Clock, people, platform_db_on
from tests.smtpd import SmtpServer, WebhookReceiver, smtp_server, webhook_receiver

pytestmark = [
    pytest.mark.integration,
    # aiosmtpd warns when AUTH is allowed without STARTTLS; over SMTPS it is TLS from the start
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]
BOTH = pytest.mark.parametrize("platform", ["sqlite", "postgresql"], indirect=True)
LOGIN = ("govlake", "smtp-Password-2030")
HOOK_KEY = "webhook-signing-key-for-tests-0123456789"
NODE = {"node": "tax_node", "department": "税务局", "outcome": "已批准", "actor": "admin",
        "reason": "材料齐全"}  # fmt: skip
PLATFORM_YAML = """\
notifications:
  retry: {attempts: 3, first_seconds: 60, max_seconds: 600}
  timeout_seconds: 5
"""
WEBHOOKS = """\
  webhooks:
    - {name: tax_robot, conn_id: tax_robot, organisation: tax}
"""


@pytest.fixture
def platform(
    request: pytest.FixtureRequest,
    conf_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    sign_in: Callable[..., Principal],
) -> dict[str, Runtime]:
    platform_db_on(request, monkeypatch)
    (conf_dir / "platform.yaml").write_text(PLATFORM_YAML, encoding="utf-8")
    return people(conf_dir, sign_in)


@pytest.fixture
def smtp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """A plain SMTP server, the platform's connection pointing at it."""
    with smtp_server(tmp_path) as server:
        monkeypatch.setenv("AIRFLOW_CONN_GOVLAKE_SMTP", server.url())
        yield server


def _deliveries(rt: Runtime, channel: str | None = None) -> list[sa.Row[tuple[object, ...]]]:
    query = sa.select(notify_delivery).order_by(notify_delivery.c.id)
    if channel:
        query = query.where(notify_delivery.c.channel == channel)
    with rt.platform_db.connect() as conn:
        return list(conn.execute(query))


def _node_approved(rt: Runtime, clock: Callable[[], datetime] = utc_now) -> int:
    notice = Notice("node.status", "node:tax_node", ["org:tax", "user:li.na"], NODE)
    return notify(rt, notice, by="admin", clock=clock)


@pytest.mark.parametrize(
    ("mode", "login"), [("plain", None), ("starttls", LOGIN), ("smtps", LOGIN)]
)
def test_each_message_arrives_in_chinese_with_its_headers(
    platform: dict[str, Runtime],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    login: tuple[str, str] | None,
) -> None:
    admin = platform["admin"]
    with smtp_server(tmp_path, mode, login) as server:  # type: ignore[arg-type]
        monkeypatch.setenv("AIRFLOW_CONN_GOVLAKE_SMTP", server.url())
        monkeypatch.setenv("SSL_CERT_FILE", str(server.cert))
        _node_approved(admin)
        report = worker.work(admin)
    emails = {r.address: r for r in _deliveries(admin, "email")}
    assert report.as_details() == {"recovered": 0, "sent": 2}
    assert sorted(r.recipients[0] for r in server.received) == sorted(emails)
    for got in server.received:
        row = emails[got.recipients[0]]
        message = got.message
        assert message["Subject"] == "【通知】交换节点 tax_node 已批准"
        assert got.raw.startswith(b"Subject: =?utf-8?b?")  # RFC 2047: the header is ASCII
        assert got.raw.isascii()
        assert message["From"] == "政务数据平台 <noreply@platform.gov.cn>"
        assert got.sender == "noreply@platform.gov.cn"
        assert message["Message-ID"] == f"<{row.idempotency_key}@govlake>"
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["X-Govlake-Event"] == "node.status"
        assert message["X-Govlake-Object"] == "node:tax_node"
        assert message.get_content_type() == "text/plain"
        assert message.get_content_charset() == "utf-8"
        assert message.get_content() == (
            "交换节点 tax_node（税务局）已批准，操作人：admin。原因：材料齐全\n"
        )
        assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
        assert row.sent_at is not None
    names = {str(r.message["To"]) for r in server.received}
    assert names == {"税务局管理员 <admin@tax.gov.cn>", "李娜 <li.na@platform.gov.cn>"}
    [done] = audit.events(admin, action="notify.work")
    assert done.outcome == "success" and done.details["sent"] == 2


def test_a_wrong_login_leaves_the_deliveries_waiting(
    platform: dict[str, Runtime], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = platform["admin"]
    with smtp_server(tmp_path, "starttls", LOGIN) as server:
        url = server.url().replace(LOGIN[1], "wrong-password")
        monkeypatch.setenv("AIRFLOW_CONN_GOVLAKE_SMTP", url)
        monkeypatch.setenv("SSL_CERT_FILE", str(server.cert))
        _node_approved(admin)
        report = worker.work(admin)
    assert report.as_details() == {"recovered": 0, "failed": 2} and server.received == []
    errors = {r.last_error for r in _deliveries(admin, "email")}
    assert len(errors) == 1 and "login refused: 535" in errors.pop()  # type: ignore[operator]
    assert "wrong-password" not in str(errors)


@BOTH
def test_smtp_down_then_back_sends_each_message_once(
    platform: dict[str, Runtime], smtp: SmtpServer
) -> None:
    admin, clock = platform["admin"], Clock()
    smtp.stop()
    for _ in range(5):
        _node_approved(admin, clock)
    down = worker.work(admin, clock=clock)
    assert down.as_details() == {"recovered": 0, "failed": 10}
    waiting = manage.pending(admin)
    assert len(waiting) == 10 and {d.status for d in waiting} == {"failed"}
    assert all("ConnectionRefusedError" in (d.last_error or "") for d in waiting)
    clock.advance(seconds=30)  # before the next attempt is due: nothing is tried
    assert worker.work(admin, clock=clock).as_details() == {"recovered": 0}
    smtp.start()
    clock.advance(seconds=31)
    back = worker.work(admin, clock=clock)
    assert back.as_details() == {"recovered": 0, "sent": 10}
    clock.advance(hours=1)
    assert worker.work(admin, clock=clock).as_details() == {"recovered": 0}
    keys = {f"<{r.idempotency_key}@govlake>" for r in _deliveries(admin, "email")}
    received = smtp.message_ids()
    lost, doubled = len(keys - set(received)), len(received) - len(set(received))
    assert (len(received), lost, doubled) == (10, 0, 0)
    assert manage.pending(admin) == []
    attempts = {r.attempts for r in _deliveries(admin, "email")}
    assert attempts == {2}


def test_a_resend_is_a_new_delivery_linked_to_the_original(
    platform: dict[str, Runtime], smtp: SmtpServer
) -> None:
    admin = platform["admin"]
    _node_approved(admin)
    worker.work(admin)
    original = _deliveries(admin, "email")[0]
    again = manage.resend(admin, original.id)
    assert (again.resend_of, again.status, again.recipient) == (
        original.id, "pending", original.recipient,
    )  # fmt: skip
    assert again.idempotency_key != original.idempotency_key
    worker.work(admin)
    shown = {d.id: d for d in manage.log(admin, channel="email")}
    assert shown[again.id].status == "sent" and shown[original.id].status == "sent"
    assert shown[original.id].sent_at == as_utc(original.sent_at)  # the original stays as it was
    to_them = [r for r in smtp.received if r.recipients == [original.address]]
    assert [str(r.message["Message-ID"]) for r in to_them] == [
        f"<{original.idempotency_key}@govlake>",
        f"<{again.idempotency_key}@govlake>",
    ]
    waiting = manage.resend(admin, again.id)
    with pytest.raises(GovlakeError, match=f"delivery {waiting.id} is pending: it is tried again"):
        manage.resend(admin, waiting.id)
    [resent] = audit.events(
        admin, action="notify.resend", outcome="success", object=f"delivery:{original.id}"
    )
    assert resent.details["resend"] == again.id
    with pytest.raises(AccessDenied, match="li.na may not send_messages organisation:platform"):
        manage.resend(platform["li.na"], original.id)


def test_webhooks_are_signed_and_refusals_are_final(
    platform: dict[str, Runtime], smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch,
    conf_dir: Path,
) -> None:  # fmt: skip
    with (conf_dir / "platform.yaml").open("a", encoding="utf-8") as conf:
        conf.write(WEBHOOKS)
    admin = Runtime.load(conf_dir).acting_as(platform["admin"].principal)  # type: ignore[arg-type]
    _node_approved(admin)
    worker.work(admin)
    [undefined] = _deliveries(admin, "webhook")
    assert undefined.status == "failed" and undefined.last_error == (
        "connection 'tax_robot' is not defined: set AIRFLOW_CONN_TAX_ROBOT or an Airflow "
        "Connection with that id"
    )
    with webhook_receiver(HOOK_KEY) as hook:
        monkeypatch.setenv("AIRFLOW_CONN_TAX_ROBOT", hook.url())
        _signed_and_refused(admin, hook, monkeypatch)


def _signed_and_refused(
    admin: Runtime, hook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    _node_approved(admin)
    worker.work(admin)
    row = _deliveries(admin, "webhook")[-1]
    [got] = hook.received
    assert (row.recipient, row.status) == ("webhook:tax_robot", "sent")
    assert got.headers["Idempotency-Key"] == row.idempotency_key
    assert got.headers["X-Govlake-Event"] == "node.status"
    assert got.body["subject"] == "【通知】交换节点 tax_node 已批准"
    assert got.body["id"] == row.idempotency_key and got.body["object"] == "node:tax_node"
    # a server error is tried again; a refusal (a wrong key: 401) is final
    hook.answer = 503
    _node_approved(admin)
    worker.work(admin)
    retried = _deliveries(admin, "webhook")[-1]
    assert retried.status == "failed" and "HTTP 503" in retried.last_error
    hook.answer = 200
    monkeypatch.setenv("AIRFLOW_CONN_TAX_ROBOT", hook.url().replace(HOOK_KEY, "not-the-key"))
    _node_approved(admin)
    worker.work(admin)
    refused = _deliveries(admin, "webhook")[-1]
    assert (refused.status, refused.attempts) == ("dead", 1)
    assert "HTTP 401" in refused.last_error and "not-the-key" not in refused.last_error
    assert hook.refused == ["/hooks/govlake"] and len(hook.received) == 1


def test_only_the_allowed_run_the_worker_or_read_the_log(platform: dict[str, Runtime]) -> None:
    for name in ("li.na", "tax.admin"):
        with pytest.raises(AccessDenied, match=f"{name} may not send_messages"):
            worker.work(platform[name])
        with pytest.raises(AccessDenied, match=f"{name} may not read_messages"):
            manage.log(platform[name])
    refused = audit.events(platform["admin"], action="notify.work", outcome="refused")
    assert sorted(e.principal for e in refused) == ["li.na", "tax.admin"]


@pytest.mark.parametrize("platform", ["postgresql"], indirect=True)
def test_two_workers_at_once_never_send_one_delivery_twice(
    platform: dict[str, Runtime], smtp: SmtpServer
) -> None:
    admin = platform["admin"]
    for _ in range(60):
        _node_approved(admin)
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run(name: str) -> None:
        start.wait()
        try:
            worker.run(admin, limit=None, worker=name, clock=utc_now)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"w{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    rows = _deliveries(admin, "email")
    keys = {f"<{r.idempotency_key}@govlake>" for r in rows}
    received = smtp.message_ids()
    assert len(rows) == 120 and {r.status for r in rows} == {"sent"}
    assert {r.worker for r in rows} == {"w1", "w2"}, "both workers sent some"
    lost, doubled = len(keys - set(received)), len(received) - len(set(received))
    assert (len(received), lost, doubled) == (120, 0, 0)


def test_the_log_resends_and_the_inbox_over_http(
    platform: dict[str, Runtime], smtp: SmtpServer
) -> None:
    import httpx

    from apps.catalog_api import create_app
    from services.identity import authentication
    from tests.conftest import TEST_ADMIN_PASSWORD, TEST_PASSWORD
    from tests.served import served

    admin = platform["admin"]
    _node_approved(admin)
    worker.work(admin)
    tokens = {"admin": authentication.login(admin, "admin", TEST_ADMIN_PASSWORD).token}
    for name in ("li.na", "tax.admin"):
        tokens[name] = authentication.login(admin, name, TEST_PASSWORD).token

    def client(name: str, url: str) -> httpx.Client:
        return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens[name]}"})

    with (
        served(create_app(admin)) as url,
        client("admin", url) as hub,
        client("li.na", url) as steward,
        client("tax.admin", url) as reader,
    ):
        sent = hub.get("/v1/notify/log", params={"status": "sent", "channel": "email"})
        assert sent.status_code == 200, sent.text
        emails = sent.json()
        assert {d["address"] for d in emails} == {"admin@tax.gov.cn", "li.na@platform.gov.cn"}
        assert hub.get("/v1/notify/log", params={"since": "2999-01-01"}).json() == []
        refused = steward.get("/v1/notify/log")
        assert refused.status_code == 403 and "may not read_messages" in refused.json()["detail"]
        again = hub.post(f"/v1/notify/deliveries/{emails[0]['id']}/resend")
        assert again.status_code == 200 and again.json()["resend_of"] == emails[0]["id"]
        waiting = hub.post(f"/v1/notify/deliveries/{again.json()['id']}/resend")
        assert waiting.status_code == 400 and "is pending" in waiting.json()["detail"]
        assert [d["id"] for d in hub.get("/v1/notify/pending").json()] == [again.json()["id"]]
        [item] = reader.get("/v1/notify/inbox", params={"unread": True}).json()
        assert item["subject"] == "【通知】交换节点 tax_node 已批准"
        assert steward.post(f"/v1/notify/inbox/{item['id']}/read").status_code == 404
        assert reader.post(f"/v1/notify/inbox/{item['id']}/read").json() == {
            "id": item["id"], "read": True,
        }  # fmt: skip
        assert reader.get("/v1/notify/inbox", params={"unread": True}).json() == []
