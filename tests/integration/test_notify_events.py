"""Events that notify, end to end on the registry's published catalog and a real SMTP server.

Each step of a resource application tells whoever the policy lets take the next one, and tells
the applicant of every decision; approving or disabling an exchange node tells its operators,
and so does a delivery the exchange refused. The e-mails are read back from the server.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from apps.guarded import DeliveryRefused, deliver, set_node_status
from catalog.sharing import applications as chain
from catalog.sharing import grants
from govlake.principal import Principal
from govlake.runtime import Runtime
from services.identity.policy import AccessDenied
from services.notifications import contacts, inbox, worker
from tests.integration.sharing_scenario import application, gold_code
from tests.integration.test_sharing import platform
from tests.smtpd import SmtpServer, smtp_server

pytestmark = pytest.mark.integration
__all__ = ["platform"]  # the fixture, shared with the sharing tests
ADDRESSES = {"li.na": "li.na@platform.gov.cn", "zhang.wei": "zhang.wei@amr.gov.cn",
             "tax.analyst": "analyst@tax.gov.cn", "tax.operator": "ops@tax.gov.cn"}  # fmt: skip
SUBSCRIPTION = """\
subscriptions:
  - name: directory_to_tax
    title: 企业名录推送税务局
    dataset: gold.enterprise_directory
    node: tax_bureau
    endpoint: inbox
    file: {format: csv}
    mode: full
    schedule: "30 1 * * *"
"""


@pytest.fixture
def smtp(
    platform: dict[str, Runtime], conf_dir: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, sign_in: Callable[..., Principal],
) -> Iterator[SmtpServer]:  # fmt: skip
    sign_in(conf_dir, "tax.operator", "exchange_operator", org="tax", token=False)
    admin = Runtime.load(conf_dir).acting_as(sign_in(conf_dir, "admin", token=False))
    for name, address in ADDRESSES.items():
        contacts.set_email(admin, name, address)
    with smtp_server(tmp_path) as server:
        monkeypatch.setenv("AIRFLOW_CONN_GOVLAKE_SMTP", server.url())
        yield server


def _mailboxes(server: SmtpServer) -> dict[str, list[str]]:
    boxes: dict[str, list[str]] = defaultdict(list)
    for got in server.received:
        boxes[got.recipients[0]].append(str(got.message["Subject"]))
    return dict(boxes)


def test_each_step_tells_the_next_handler_and_the_applicant(
    platform: dict[str, Runtime], smtp: SmtpServer, conf_dir: Path,
    sign_in: Callable[..., Principal],
) -> None:  # fmt: skip
    tax, owner, hub = platform["tax.analyst"], platform["zhang.wei"], platform["li.na"]
    code = gold_code(tax)
    made = chain.apply(tax, code, application())
    chain.act(hub, made.code, "accept")
    chain.act(owner, made.code, "approve", "同意共享")
    chain.authorize_application(hub, made.code, chain.Grant())
    other = chain.apply(tax, code, application(mode="subscription"))
    chain.act(hub, other.code, "reject", "用途与申请事项不符")
    admin = Runtime.load(conf_dir).acting_as(sign_in(conf_dir, "admin", token=False))
    report = worker.work(admin)
    assert report.as_details() == {"recovered": 0, "sent": 8}
    a, b = made.code, other.code

    def grants_of(rt: Runtime) -> list[grants.ShareGrant]:
        with rt.platform_db.connect() as conn:
            return grants.listed(conn)

    assert _mailboxes(smtp) == {
        "li.na@platform.gov.cn": [f"【待办】资源申请 {a} 待受理", f"【待办】资源申请 {a} 待授权",
                                  f"【待办】资源申请 {b} 待受理"],
        "zhang.wei@amr.gov.cn": [f"【待办】资源申请 {a} 待审批（数据提供方）"],
        "analyst@tax.gov.cn": [f"【通知】资源申请 {a} 已受理",
                               f"【通知】资源申请 {a} 已获数据提供方审批同意",
                               f"【通知】资源申请 {a} 已授权并生效",
                               f"【通知】资源申请 {b} 未予受理"],
    }  # fmt: skip
    first = smtp.received[0].message
    assert first.get_content() == (
        f"tax.analyst（税务局）申请共享资源 {code}（gold.enterprise_directory），方式：单条查询。\n"
        "当前状态：已提交。请您受理。\n"
        "下一步：由平台受理或不予受理\n"
    )
    refused = smtp.received[-1].message
    assert "办理人：li.na。意见：用途与申请事项不符" in refused.get_content()
    assert "如需使用，请重新申请" in refused.get_content()
    shown = [item.subject for item in inbox.inbox(tax)]
    assert len(shown) == 4 and shown[0] == f"【通知】资源申请 {b} 未予受理"
    # a grant about to end: its applicant is told once, a week before
    [grant] = [g for g in grants_of(hub) if g.application == a]
    week_before = grant.valid_until - timedelta(days=7)
    assert chain.warn_expiring(hub, clock=lambda: week_before - timedelta(seconds=1)) == []
    assert chain.warn_expiring(hub, clock=lambda: week_before + timedelta(hours=1)) == [a]
    assert chain.warn_expiring(hub, clock=lambda: week_before + timedelta(days=1)) == []
    with pytest.raises(AccessDenied, match="tax.analyst may not accept"):
        chain.warn_expiring(tax)
    worker.work(admin)
    assert str(smtp.received[-1].message["Subject"]) == (
        f"【提醒】资源申请 {a} 的授权将于 {grant.valid_until:%Y-%m-%d %H:%M} 到期"
    )
    assert smtp.received[-1].recipients == ["analyst@tax.gov.cn"]


def test_node_changes_and_a_refused_delivery_tell_the_operators(
    platform: dict[str, Runtime], smtp: SmtpServer, conf_dir: Path,
    sign_in: Callable[..., Principal],
) -> None:  # fmt: skip
    (conf_dir / "exchange" / "subscriptions.yaml").write_text(SUBSCRIPTION, encoding="utf-8")
    rt = Runtime.load(conf_dir)
    admin = rt.acting_as(sign_in(conf_dir, "admin", token=False))
    operator = rt.acting_as(sign_in(conf_dir, "tax.operator", token=False))
    set_node_status(admin, "tax_bureau", "approved", "材料齐全")
    set_node_status(admin, "tax_bureau", "disabled", "证书过期")
    with pytest.raises(DeliveryRefused, match="node tax_bureau is disabled"):
        deliver(operator, "directory_to_tax", progress=lambda _: None)
    worker.work(admin)
    assert _mailboxes(smtp) == {
        "ops@tax.gov.cn": [
            "【通知】交换节点 tax_bureau 已批准",
            "【通知】交换节点 tax_bureau 已停用",
            "【告警】订阅 directory_to_tax 向节点 tax_bureau 的交付被拒绝",
        ],
    }  # fmt: skip
    alert = smtp.received[-1].message.get_content()
    assert "未送达节点 tax_bureau：node tax_bureau is disabled" in alert
    assert "交换节点 tax_bureau（税务局）已停用，操作人：admin。原因：证书过期" in (
        smtp.received[1].message.get_content()
    )
