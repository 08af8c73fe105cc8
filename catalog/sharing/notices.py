"""Who each step of a resource application tells, and what: the next handler, and the applicant.

A step that leaves the application waiting for someone tells whoever the policy lets take the
next step (``may:<verb>@catalog:<code>``): the platform's stewards to accept and to authorise,
the owner's to approve. Every decision is told to the applicant. The messages are made in the
step's own transaction, so they exist exactly when the step does.
"""

from __future__ import annotations

from typing import Protocol

import sqlalchemy as sa

from catalog.sharing.terms import Request, Status
from govlake.runtime import Runtime
from services.notifications import Notice, notify, told


class Applied(Protocol):
    """What the messages say of an application (``applications.Application`` is one)."""

    @property
    def code(self) -> str: ...  # noqa: D102
    @property
    def applicant(self) -> str: ...  # noqa: D102
    @property
    def organisation(self) -> str: ...  # noqa: D102
    @property
    def resource(self) -> str: ...  # noqa: D102
    @property
    def dataset(self) -> str: ...  # noqa: D102
    @property
    def request(self) -> Request: ...  # noqa: D102


# The status an application waits in -> (the verb of the next step, the task in Chinese).
WAITING: dict[str, tuple[str, str]] = {
    "submitted": ("accept", "受理"),
    "accepted": ("approve", "审批（数据提供方）"),
    "approved": ("authorize", "授权"),
}
# What a decision did, as the applicant reads it.
OUTCOME: dict[str, str] = {
    "accepted": "已受理",
    "approved": "已获数据提供方审批同意",
    "authorized": "已授权",
    "active": "已授权并生效",
    "rejected_at_acceptance": "未予受理",
    "rejected_by_owner": "未获数据提供方同意",
    "refused_authorization": "未予授权",
    "revoked": "已撤销",
    "expired": "已到期",
}
NEXT: dict[str, str] = {
    "submitted": "由平台受理或不予受理",
    "accepted": "由数据提供方审批",
    "approved": "由平台授权",
    "authorized": "授权期开始后生效",
    "active": "授权期内可按授权方式使用，到期或撤销后终止",
}
MODES: dict[str, str] = {
    "single_query": "单条查询",
    "composite_query": "组合查询",
    "service_api": "服务接口",
    "table_push": "库表推送",
    "file_download": "文件下载",
    "share_interface": "共享接口",
    "subscription": "订阅",
}


def tell(
    rt: Runtime,
    conn: sa.Connection,
    found: Applied,
    to_status: Status,
    actor: str,
    comment: str | None = None,
) -> list[int]:
    """The messages of ``found`` reaching ``to_status``, written in ``conn``; their ids."""
    names = {d.code: d.name for d in rt.config.departments.values()}
    context = {
        "code": found.code, "applicant": found.applicant,
        "organisation": names.get(found.organisation, found.organisation),
        "resource": found.resource, "dataset": found.dataset,
        "mode": MODES.get(found.request.mode, found.request.mode), "actor": actor,
        "comment": comment, "next": NEXT.get(to_status, "如需使用，请重新申请"),
    }  # fmt: skip
    about = f"application:{found.code}"
    notices = []
    if to_status in WAITING:
        verb, task = WAITING[to_status]
        status = OUTCOME.get(to_status, "已提交")
        handlers = [f"may:{verb}@catalog:{found.resource}"]
        notices.append(Notice("application.to_handle", about, handlers,
                              {**context, "task": task, "status": status}))  # fmt: skip
    if to_status in OUTCOME:
        outcome = {**context, "outcome": OUTCOME[to_status]}
        notices.append(Notice("application.outcome", about, [f"user:{found.applicant}"], outcome))
    return [notify(rt, notice, by=actor, conn=conn) for notice in notices]


def warn_expiry(rt: Runtime, conn: sa.Connection, found: Applied, until: str, actor: str) -> bool:
    """Tell the applicant once that ``found``'s grant ends at ``until``; whether told now."""
    about = f"application:{found.code}"
    if told(conn, "application.expiring", about):
        return False
    context = {"code": found.code, "resource": found.resource, "dataset": found.dataset,
               "until": until}  # fmt: skip
    notice = Notice("application.expiring", about, [f"user:{found.applicant}"], context)
    notify(rt, notice, by=actor, conn=conn)
    return True
