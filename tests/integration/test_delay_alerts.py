"""Delay alerts: an application step past its handling time warns, then escalates, each once;
a table past its dataset's freshness tells its reviewer once.

The registry's published scenario on the platform DB; time is the test's clock, moved across a
weekend, never slept. The messages are read back from the people's inboxes, the alerts from
``govlake alerts list`` and the audit ledger.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from apps.cli.main import app
from catalog.sharing import applications as chain
from catalog.sharing import overdue
from govlake.principal import Principal
from govlake.runtime import Runtime
from jobs.quality import freshness
from services.audit.read import events
from services.identity.policy import AccessDenied
from services.notifications import alerts, inbox, stale_data
from tests.integration.sharing_scenario import application, gold_code
from tests.integration.test_sharing import BOTH, platform

pytestmark = pytest.mark.integration
__all__ = ["platform"]  # the fixture, shared with the sharing tests
SHANGHAI = ZoneInfo("Asia/Shanghai")
WEDNESDAY = datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)  # clocks give UTC


class Clock:
    """A clock the test sets."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_working_days_skip_the_weekend() -> None:
    friday = datetime(2026, 11, 27, 16, 30, tzinfo=SHANGHAI)
    assert overdue.after_working_days(friday, 1, SHANGHAI).weekday() == 0
    assert overdue.after_working_days(WEDNESDAY, 1, SHANGHAI) == WEDNESDAY + timedelta(days=1)
    assert overdue.after_working_days(friday, 1, SHANGHAI) == friday + timedelta(days=3)
    saturday = friday + timedelta(days=1)
    assert overdue.after_working_days(saturday, 1, SHANGHAI) == saturday + timedelta(days=2)


def _subjects(rt: Runtime) -> list[str]:
    return [item.subject for item in inbox.inbox(rt) if "督办" in item.subject]


@BOTH
def test_an_unaccepted_application_warns_then_escalates_once(
    platform: dict[str, Runtime], conf_dir: Path, sign_in: Callable[..., Principal]
) -> None:
    tax, hub, owner = platform["tax.analyst"], platform["li.na"], platform["zhang.wei"]
    # the platform administrator may send messages, and is the platform's administrator
    admin = Runtime.load(conf_dir).acting_as(sign_in(conf_dir, "admin", token=False))
    clock = Clock(WEDNESDAY)
    made = chain.apply(tax, gold_code(tax), application(), clock=clock)
    code = made.code
    clock.now = WEDNESDAY + timedelta(hours=23, minutes=59)  # 1 working day to accept
    assert overdue.check(admin, clock=clock) == []
    clock.now = WEDNESDAY + timedelta(days=1)
    [warned] = overdue.check(admin, clock=clock)
    assert (warned.code, warned.status, warned.stage) == (code, "submitted", "warning")
    assert overdue.check(admin, clock=clock) == []  # the check runs again: nothing new
    assert _subjects(hub) == [f"【督办】资源申请 {code} 待受理已超时"]
    [message] = [i for i in inbox.inbox(hub) if "督办" in i.subject]
    assert "办理时限为 1 个工作日，已于 2026-11-26 10:00（Asia/Shanghai） 到期" in message.body
    # two working days after the warning: Friday and Monday, not the weekend
    clock.now = WEDNESDAY + timedelta(days=5, hours=-1)  # Monday 09:00
    assert overdue.check(admin, clock=clock) == []
    clock.now = WEDNESDAY + timedelta(days=5)  # Monday 10:00
    [escalated] = overdue.check(admin, clock=clock)
    assert escalated.stage == "escalation"
    assert overdue.check(admin, clock=clock) == []
    assert _subjects(admin) == [f"【督办升级】资源申请 {code} 待受理逾期未办"]
    assert _subjects(hub) == [f"【督办】资源申请 {code} 待受理已超时"]  # warned once only
    assert [a.stage for a in alerts.listed(admin)] == ["warning", "escalation"]
    audited = events(admin, object=f"application:{code}")
    assert [e.action for e in audited][:2] == ["sharing.overdue_escalation",
                                               "sharing.overdue_warning"]  # fmt: skip
    # the command, as the platform administrator and as someone who may not read the alerts
    sign_in(conf_dir, "admin")
    done = CliRunner().invoke(app, ["alerts", "list", "-o", "json", "--conf", str(conf_dir)])
    assert done.exit_code == 0, done.output
    [row] = json.loads(done.output)
    assert {k: row[k] for k in ("kind", "object", "deadline_utc", "warned", "escalated")} == {
        "kind": "application step", "object": f"{code} (submitted)",
        "deadline_utc": "2026-11-26T02:00:00+00:00", "warned": "li.na", "escalated": "admin",
    }  # fmt: skip
    assert "day" in row["overdue_by"] and row["resolved_utc"] is None
    sign_in(conf_dir, "tax.analyst")
    done = CliRunner().invoke(app, ["alerts", "list", "--conf", str(conf_dir)])
    assert done.exit_code == 1 and "tax.analyst may not read_messages" in done.output
    # accepting ends those alerts; the owner's approval has its own 3 working days
    chain.act(hub, code, "accept", clock=clock)
    assert overdue.check(admin, clock=clock) == []
    assert alerts.listed(admin) == []
    assert {a.resolved_at for a in alerts.listed(admin, resolved=True)} == {clock.now}
    clock.now += timedelta(days=2)  # Wednesday: 2 of 3 working days
    assert overdue.check(admin, clock=clock) == []
    clock.now += timedelta(days=1)
    [late] = overdue.check(admin, clock=clock)
    assert (late.status, late.stage) == ("accepted", "warning")
    assert _subjects(owner) == [f"【督办】资源申请 {code} 待审批（数据提供方）已超时"]


def test_a_stale_table_tells_its_reviewer_once_until_it_is_fresh_again(
    platform: dict[str, Runtime], conf_dir: Path, sign_in: Callable[..., Principal]
) -> None:
    admin = Runtime.load(conf_dir).acting_as(sign_in(conf_dir, "admin", token=False))
    ref = "gold.enterprise_directory"
    info = admin.lake.describe(ref)
    newest = freshness.last_seen(admin.lake, admin.config.expectations_dir, ref, info.last_commit)
    limit = newest + timedelta(hours=admin.config.dataset(ref).quality.freshness_hours)
    clock = Clock(limit - timedelta(seconds=1))
    assert ref not in {s.dataset for s in stale_data.check(admin, clock=clock)}
    clock.now = limit
    [stale] = [s for s in stale_data.check(admin, clock=clock) if s.dataset == ref]
    assert (stale.version, stale.deadline) == (info.version, limit)
    assert stale_data.check(admin, clock=clock) == []  # checked again: told once
    subject = f"【告警】数据表 {ref} 已超过时效"
    assert [i.subject for i in inbox.inbox(platform["zhang.wei"])].count(subject) == 1
    assert any(e.action == "dataset.stale" for e in events(admin, object=f"dataset:{ref}"))
    sign_in(conf_dir, "admin")
    done = CliRunner().invoke(app, ["alerts", "list", "-o", "json", "--conf", str(conf_dir)])
    assert done.exit_code == 0, done.output
    assert {"kind": "stale dataset", "object": f"{ref} v{info.version}", "warned": "zhang.wei"} in [
        {k: r[k] for k in ("kind", "object", "warned")} for r in json.loads(done.output)
    ]
    clock.now = limit - timedelta(hours=1)  # fresh again (as after new data): the alert ends
    stale_data.check(admin, clock=clock)
    assert f"dataset:{ref}@v{info.version}" not in {a.object for a in alerts.listed(admin)}


def test_only_the_platform_checks_and_lists_alerts(platform: dict[str, Runtime]) -> None:
    tax = platform["tax.analyst"]
    with pytest.raises(AccessDenied, match="tax.analyst may not send_messages"):
        overdue.check(tax)
    with pytest.raises(AccessDenied, match="tax.analyst may not send_messages"):
        stale_data.check(tax)
    with pytest.raises(AccessDenied, match="tax.analyst may not read_messages"):
        alerts.listed(tax)
