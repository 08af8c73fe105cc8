"""Applications waiting past their handling time: warn whoever may take the step, then escalate.

Each waiting status has a step and a handling time in working days (``handling:`` in
``conf/catalog.yaml``: accept, approve, authorize), counted from when the application reached
that status. Past it, whoever may take the step is warned (``may:<verb>@catalog:<code>``);
``escalate_after`` working days later, the organisation that takes it (the platform department
for accepting and authorising, the owner for approving) is told through whoever may
``administer`` it: its organisation administrators, those above it and the platform's. Working
days are Monday to Friday in the conf's time zone; holidays are not known. Each warning and
escalation is raised once (:mod:`services.notifications.alerts`) and audited
(``sharing.overdue_warning``, ``sharing.overdue_escalation``); a step taken since resolves its
alerts. The check needs ``send_messages`` on the platform department, as the message worker
(``notify.worker``) holds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from catalog.sharing import notices
from catalog.sharing.applications import Application, waiting_in
from catalog.sharing.terms import Status
from govlake.config.catalog import HandlingTimes
from govlake.runtime import Runtime
from services.identity import trail
from services.identity.policy import acting, require
from services.identity.settings import Clock, utc_now
from services.notifications import Notice
from services.notifications.alerts import open_objects, raise_once, resolve

KIND = "application_step"
WAITING: tuple[Status, ...] = ("submitted", "accepted", "approved")  # notices.WAITING


@dataclass(frozen=True)
class Raised:
    """One warning or escalation raised now."""

    code: str
    status: str
    stage: str
    deadline: datetime


def after_working_days(start: datetime, days: int, zone: ZoneInfo) -> datetime:
    """The moment ``days`` working days (Monday to Friday in ``zone``) after ``start``.

    A day is counted when the clock reaches the same local time on the next working day; a
    start on a weekend counts from the Monday after it, at the time of day it started.
    """
    local = start.astimezone(zone)
    counted = 0
    while counted < days:
        local += timedelta(days=1)  # the same wall time the next day, in zone
        if local.weekday() < 5:
            counted += 1
    return local.astimezone(start.tzinfo)


def due(found: Application, handling: HandlingTimes) -> tuple[datetime, datetime]:
    """When ``found``'s waiting step is overdue, and when it is escalated."""
    zone = ZoneInfo(handling.timezone)
    verb, _ = notices.WAITING[found.status]
    warn_at = after_working_days(found.changed_at, getattr(handling, verb), zone)
    return warn_at, after_working_days(warn_at, handling.escalate_after, zone)


def check(rt: Runtime, *, clock: Clock = utc_now) -> list[Raised]:
    """Warn and escalate each application step past its handling time, once; those raised now."""
    actor = acting(rt)
    platform = rt.config.catalog.platform_department
    require(rt, actor, "send_messages", f"organisation:{platform}")
    handling = rt.config.catalog.handling
    now = clock()
    with rt.platform_db.connect() as conn:
        waiting = waiting_in(conn, WAITING)
    waiting_now = {_object(found) for found in waiting}
    with rt.platform_db.begin() as conn:  # a step taken since: its alerts are done with
        for moved in set(open_objects(conn, KIND)) - waiting_now:
            resolve(conn, moved, now)
    raised = []
    for found in waiting:
        warn_at, escalate_at = due(found, handling)
        stages = [("warning", warn_at), ("escalation", escalate_at)]
        for stage, deadline in stages:
            if now >= deadline and _raise(rt, found, stage, warn_at, actor.username, now):
                raised.append(Raised(found.code, found.status, stage, deadline))
                trail.write(rt, actor, f"sharing.overdue_{stage}", f"application:{found.code}",
                            "success", {"status": found.status,
                                        "deadline": deadline.isoformat()})  # fmt: skip
    return raised


def _object(found: Application) -> str:
    return f"application:{found.code}:{found.status}"


def _raise(
    rt: Runtime, found: Application, stage: str, warn_at: datetime, by: str, now: datetime
) -> bool:
    handling = rt.config.catalog.handling
    zone = ZoneInfo(handling.timezone)
    verb, task = notices.WAITING[found.status]
    handler = found.owner if verb == "approve" else rt.config.catalog.platform_department
    names = {d.code: d.name for d in rt.config.departments.values()}
    shown = f"%Y-%m-%d %H:%M（{handling.timezone}）"
    context = {
        "code": found.code, "applicant": found.applicant,
        "organisation": names.get(found.organisation, found.organisation),
        "resource": found.resource, "dataset": found.dataset, "task": task,
        "since": found.changed_at.astimezone(zone).strftime(shown),
        "deadline": warn_at.astimezone(zone).strftime(shown),
        "days": getattr(handling, verb), "handler": names.get(handler, handler),
    }  # fmt: skip
    if stage == "warning":
        notice = Notice("application.overdue", _object(found),
                        [f"may:{verb}@catalog:{found.resource}"], context)  # fmt: skip
    else:
        admins = [f"may:administer@organisation:{handler}"]  # its, its parents', the platform's
        notice = Notice("application.escalated", _object(found), admins, context)
    return raise_once(rt, kind=KIND, stage=stage, deadline=warn_at, notice=notice, by=by,
                      clock=lambda: now)  # fmt: skip
