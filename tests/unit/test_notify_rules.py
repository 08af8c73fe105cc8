"""The message service's pure rules: settings, backoff, templates, signatures, e-mail form."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from govlake.config.notifications import PlatformNotifications, Retry
from govlake.errors import GovlakeError
from services.notifications.channels import Outgoing
from services.notifications.channels.email import compose
from services.notifications.channels.webhook import SHAPES, signature
from services.notifications.claims import backoff
from services.notifications.templates import render
from services.notifications.worker import batch_size

pytestmark = pytest.mark.unit
ITEM = Outgoing("k1", "node.status", "node:x", "【通知】节点 x 已停用", "正文", datetime(2030, 3, 1,
                tzinfo=UTC), "zhang.wei", "张伟", "zhang.wei@amr.gov.cn")  # fmt: skip


def test_the_lease_outlasts_two_timeouts_and_sets_the_batch() -> None:
    with pytest.raises(ValidationError, match="lease_seconds must be at least twice"):
        PlatformNotifications(lease_seconds=10, timeout_seconds=6)
    assert batch_size(PlatformNotifications()) == 15  # 300 s lease, 10 s per send
    assert batch_size(PlatformNotifications(lease_seconds=2, timeout_seconds=1)) == 1


def test_backoff_doubles_up_to_its_maximum() -> None:
    retry = Retry(attempts=10, first_seconds=60, max_seconds=600)
    waits = [backoff(n, retry) for n in range(1, 7)]
    assert waits == [timedelta(seconds=s) for s in (60, 120, 240, 480, 600, 600)]


def test_a_template_names_the_field_it_misses() -> None:
    assert render("notify.test", {"channel": "邮件", "actor": "li.na"}).subject == (
        "【测试】消息服务测试（邮件）"
    )
    with pytest.raises(GovlakeError, match="message template 'notify.test' needs 'actor'"):
        render("notify.test", {"channel": "邮件"})
    with pytest.raises(GovlakeError, match="no message template 'nope'"):
        render("nope", {})


def test_the_generic_signature_is_hmac_sha256_of_timestamp_and_body() -> None:
    body = b'{"id": "k1"}'
    expected = hmac.new(b"key", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("key", 1700000000, body) == f"sha256={expected}"
    payload, headers, query = SHAPES["dingtalk"](ITEM, "secret", 1700000000)
    assert payload == {"msgtype": "text", "text": {"content": "【通知】节点 x 已停用\n正文"}}
    assert set(query) == {"timestamp", "sign"} and query["timestamp"] == "1700000000000"
    assert SHAPES["wecom"](ITEM, "robot-key", 0)[2] == {"key": "robot-key"}


def test_an_email_carries_its_key_and_encoded_chinese_headers() -> None:
    message = compose(ITEM, "政务数据平台 <noreply@platform.gov.cn>")
    assert message["Message-ID"] == "<k1@govlake>"
    assert str(message["To"]) == "张伟 <zhang.wei@amr.gov.cn>"
    assert message.as_bytes().isascii()


def test_the_api_names_every_delivery_status_and_channel() -> None:
    from typing import get_args

    from apps.notify_api import Channel, Status
    from govlake.platform_db.schema import DELIVERY_STATUSES
    from services.notifications.outbox import CHANNELS

    assert get_args(Status) == DELIVERY_STATUSES and get_args(Channel) == CHANNELS
