"""Messages and deliveries on the real platform DB: recipients, channels, claims, leases.

Claims are raced by threads on SQLite and PostgreSQL: no delivery is ever claimed twice. The
clock is injected, so backoff and leases are crossed without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from govlake.config.notifications import Retry
from govlake.errors import GovlakeError
from govlake.platform_db.schema import notify_delivery, notify_message
from govlake.principal import Principal
from govlake.runtime import Runtime
from services import audit
from services.identity.policy import AccessDenied
from services.notifications import Notice, claims, contacts, inbox, notify
from services.notifications.claims import Attempt
from services.notifications.outbox import delivery_row
from services.notifications.recipients import resolve
from tests.integration.notify_fixtures import people, platform_db_on

pytestmark = pytest.mark.integration
BOTH = pytest.mark.parametrize("platform", ["sqlite", "postgresql"], indirect=True)
NOW = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
RETRY = Retry(attempts=3, first_seconds=60, max_seconds=300)


@pytest.fixture
def platform(
    request: pytest.FixtureRequest,
    conf_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    sign_in: Callable[..., Principal],
) -> dict[str, Runtime]:
    platform_db_on(request, monkeypatch)
    return people(conf_dir, sign_in)


def _rows(rt: Runtime) -> list[dict[str, object]]:
    with rt.platform_db.connect() as conn:
        rows = conn.execute(sa.select(notify_delivery).order_by(notify_delivery.c.id))
        return [dict(r._mapping) for r in rows]


@BOTH
def test_recipients_are_resolved_from_users_organisations_roles_and_the_policy(
    platform: dict[str, Runtime],
) -> None:
    rt = platform["admin"]
    names = lambda *specs: [p.username for p in resolve(rt, specs)]  # noqa: E731
    assert names("user:li.na", "user:nobody") == ["li.na"]
    assert names("org:tax") == ["tax.admin", "tax.analyst"]
    assert names("role:data_steward@market_regulation") == ["zhang.wei"]
    # who may administer the tax bureau: its organisation administrator and the platform's
    assert names("may:administer@organisation:tax") == ["admin", "tax.admin"]
    assert names("may:administer@organisation:market_regulation", "user:li.na") == [
        "admin",
        "li.na",
    ]
    with pytest.raises(GovlakeError, match="recipient 'team:x' is not one of user:"):
        resolve(rt, ["team:x"])


@BOTH
def test_a_message_has_one_delivery_per_recipient_and_channel(
    platform: dict[str, Runtime],
) -> None:
    rt = platform["admin"]
    notice = Notice(
        "node.status",
        "node:tax_node",
        ["org:tax"],
        {"node": "tax_node", "department": "税务局", "outcome": "已批准", "actor": "admin",
         "reason": None},
    )  # fmt: skip
    number = notify(rt, notice, by="admin", clock=lambda: NOW)
    with rt.platform_db.connect() as conn:
        message = conn.execute(sa.select(notify_message)).one()
    assert message.id == number and message.subject == "【通知】交换节点 tax_node 已批准"
    assert message.body == "交换节点 tax_node（税务局）已批准，操作人：admin。原因：无"
    assert message.recipients == ["org:tax"]
    shown = {(r["recipient"], r["channel"], r["address"], r["status"]) for r in _rows(rt)}
    assert shown == {
        ("tax.admin", "inbox", "tax.admin", "sent"),
        ("tax.analyst", "inbox", "tax.analyst", "sent"),
        ("tax.admin", "email", "admin@tax.gov.cn", "pending"),  # the analyst has no address
    }
    keys = [r["idempotency_key"] for r in _rows(rt)]
    assert len(set(keys)) == 3


def test_a_template_with_a_missing_field_makes_no_message(platform: dict[str, Runtime]) -> None:
    rt = platform["admin"]
    with pytest.raises(GovlakeError, match="message template 'node.status' needs 'outcome'"):
        notify(rt, Notice("node.status", "node:x", ["org:tax"], {"node": "x"}), by="admin")
    assert _rows(rt) == []


def test_the_inbox_is_the_recipients_own_and_marks_read(platform: dict[str, Runtime]) -> None:
    admin, analyst, steward = platform["admin"], platform["tax.analyst"], platform["li.na"]
    notice = Notice("notify.test", "channel:inbox", ["user:tax.analyst"],
                    {"channel": "站内信", "actor": "admin"})  # fmt: skip
    notify(admin, notice, by="admin")
    [item] = inbox.inbox(analyst, unread=True)
    assert item.subject == "【测试】消息服务测试（站内信）" and item.read_at is None
    assert inbox.inbox(steward) == []
    with pytest.raises(GovlakeError, match=f"no message {item.id} in the inbox of li.na"):
        inbox.mark_read(steward, item.id)
    inbox.mark_read(analyst, item.id)
    assert inbox.inbox(analyst, unread=True) == []
    assert inbox.inbox(analyst)[0].read_at is not None
    refused = audit.events(admin, action="notify.read", outcome="refused")
    assert [e.principal for e in refused] == ["li.na"]


def test_an_address_is_set_by_its_user_or_an_administrator(platform: dict[str, Runtime]) -> None:
    analyst, steward = platform["tax.analyst"], platform["zhang.wei"]
    contacts.set_email(analyst, "tax.analyst", "analyst@tax.gov.cn")
    assert contacts.email_of(analyst, "tax.analyst") == "analyst@tax.gov.cn"
    with pytest.raises(AccessDenied, match="zhang.wei may not administer organisation:tax"):
        contacts.set_email(steward, "tax.analyst", "x@evil.example")
    contacts.set_email(platform["tax.admin"], "tax.analyst", "analyst2@tax.gov.cn")
    assert contacts.email_of(analyst, "tax.analyst") == "analyst2@tax.gov.cn"
    with pytest.raises(GovlakeError, match="'not an address' is not an e-mail address"):
        contacts.set_email(analyst, "tax.analyst", "not an address")


def _pending(rt: Runtime, count: int) -> list[int]:
    """``count`` e-mail deliveries of one message, due at NOW."""
    with rt.platform_db.begin() as conn:
        message = conn.execute(
            notify_message.insert().values(
                event="notify.test", object="channel:email", subject="s", body="b",
                recipients=[], created_by="admin", created_at=NOW,
            ).returning(notify_message.c.id)
        ).scalar_one()  # fmt: skip
        rows = [delivery_row(message, f"u{n}", "email", f"u{n}@x.cn", NOW) for n in range(count)]
        conn.execute(notify_delivery.insert(), rows)
    return [int(r["id"]) for r in _rows(rt)]  # type: ignore[call-overload]


@BOTH
def test_racing_workers_never_claim_one_delivery_twice(platform: dict[str, Runtime]) -> None:
    rt = platform["admin"]
    everything = _pending(rt, 300)
    taken: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    start = threading.Barrier(len(taken))

    errors: list[BaseException] = []

    def race(worker: str) -> None:
        start.wait()
        try:
            while batch := claims.claim(rt.platform_db, worker, now=NOW, lease=LEASE, limit=7):
                taken[worker] += [c.id for c in batch]
                time.sleep(0.01)  # sending them
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(w,)) for w in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    claimed = [i for ids in taken.values() for i in ids]
    assert sorted(claimed) == everything  # each once: none twice, none left
    assert all(taken.values()), "every worker claimed some"
    rows = _rows(rt)
    assert {(r["status"], r["attempts"]) for r in rows} == {("sending", 1)}
    assert {r["id"]: r["worker"] for r in rows} == {i: w for w, ids in taken.items() for i in ids}


@BOTH
def test_failures_back_off_then_die_and_a_lost_worker_s_claims_come_back(
    platform: dict[str, Runtime],
) -> None:
    db = platform["admin"].platform_db
    [one, two] = _pending(platform["admin"], 2)
    now = NOW
    waits = []
    for _ in range(RETRY.attempts):
        [claimed] = claims.claim(db, "w1", now=now, lease=LEASE, limit=1, only=[one])
        [status] = claims.settle(db, "w1", [Attempt(claimed, "421 busy")], now=now, retry=RETRY)
        row = next(r for r in _rows(platform["admin"]) if r["id"] == one)
        if status == "failed":
            due = row["next_attempt_at"].replace(tzinfo=UTC)  # type: ignore[union-attr]
            waits.append(due - now)
            assert claims.claim(db, "w1", now=due - timedelta(seconds=1), lease=LEASE,
                                limit=1, only=[one]) == []  # fmt: skip
            now = due
    assert waits == [timedelta(seconds=60), timedelta(seconds=120)]
    assert (status, row["attempts"], row["last_error"]) == ("dead", 3, "421 busy")
    # a worker dies mid-send: its claim comes back after the lease, to another worker
    [lost] = claims.claim(db, "gone", now=NOW, lease=LEASE, limit=1, only=[two])
    assert claims.recover(db, now=NOW + LEASE - timedelta(seconds=1), retry=RETRY) == 0
    assert claims.recover(db, now=NOW + LEASE + timedelta(seconds=1), retry=RETRY) == 1
    [again] = claims.claim(db, "w2", now=NOW + LEASE * 2, lease=LEASE, limit=1)
    assert (again.id, again.attempts) == (two, 2)
    late = claims.settle(db, "gone", [Attempt(lost)], now=NOW, retry=RETRY)
    assert late == ["overtaken"], "the lost worker no longer settles it"
    assert claims.settle(db, "w2", [Attempt(again)], now=NOW + LEASE * 2, retry=RETRY) == ["sent"]
    row = next(r for r in _rows(platform["admin"]) if r["id"] == two)
    assert (row["status"], row["worker"], row["last_error"]) == ("sent", "w2", None)
