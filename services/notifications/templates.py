"""The text of each kind of message: a subject and a body in Chinese, filled from a context.

A template is ``str.format`` text over the context the event gives (application code, resource,
outcome...). A missing value is an error naming the template and the field, never a message
with a hole in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from govlake.errors import GovlakeError


@dataclass(frozen=True)
class Template:
    """A subject line and a body."""

    subject: str
    body: str


TEMPLATES: dict[str, Template] = {
    "application.to_handle": Template(
        "【待办】资源申请 {code} 待{task}",
        "{applicant}（{organisation}）申请共享资源 {resource}（{dataset}），方式：{mode}。\n"
        "当前状态：{status}。请您{task}。\n"
        "下一步：{next}",
    ),
    "application.outcome": Template(
        "【通知】资源申请 {code} {outcome}",
        "您单位申请共享的资源 {resource}（{dataset}）{outcome}。\n"
        "办理人：{actor}。意见：{comment}\n"
        "下一步：{next}",
    ),
    "application.expiring": Template(
        "【提醒】资源申请 {code} 的授权将于 {until} 到期",
        "您单位共享使用的资源 {resource}（{dataset}）的授权将于 {until} 到期（UTC）。"
        "如需继续使用，请在到期前重新申请。",
    ),
    "node.status": Template(
        "【通知】交换节点 {node} {outcome}",
        "交换节点 {node}（{department}）{outcome}，操作人：{actor}。原因：{reason}",
    ),
    "exchange.failed": Template(
        "【告警】订阅 {subscription} 向节点 {node} 的交付{outcome}",
        "订阅 {subscription} 的批次 {batch} 未送达节点 {node}：{reason}\n"
        "请核查节点状态与连接后重发。",
    ),
    "task.failed": Template(
        "【告警】任务 {dag}.{task} 运行失败",
        "流程 {dag} 的任务 {task}（运行 {run}，第 {attempt} 次尝试）失败：{error}\n"
        "请在 Airflow 中查看该任务的日志，处理后重跑。",
    ),
    "audit.tampered": Template(
        "【告警】审计日志校验未通过",
        "{actor} 校验审计日志发现 {count} 处问题，首处：{first}\n"
        "请立即保全平台数据库与签名检查点目录，并核查相关操作。",
    ),
    "quality.blocked": Template(
        "【告警】数据表 {dataset} 未通过质量校验，本次未提交",
        "{reason}\n请核查来源数据或校验规则，修正后重跑；隔离数据可用 govlake quality "
        "quarantine 查看。",
    ),
    "dataset.stale": Template(
        "【告警】数据表 {dataset} 已超过时效",
        "数据表 {dataset}（{title}）最新记录的时间为 {newest}（UTC），已超过 {hours} 小时的时效要求"
        "（版本 {version}）。请核查采集任务与来源系统，补采后重跑。",
    ),
    "run.late": Template(
        "【告警】{what} {name} 的运行 {run} 已超过时限",
        "{what} {name}（{title}）的运行 {run} 应于 {deadline}（UTC）前完成，{state}。\n"
        "时限：{reference}起 {after}。请在 Airflow 中查看该运行，排除阻塞后重跑。",
    ),
    "application.overdue": Template(
        "【督办】资源申请 {code} 待{task}已超时",
        "{applicant}（{organisation}）申请共享的资源 {resource}（{dataset}）自 {since} 起待{task}，"
        "办理时限为 {days} 个工作日，已于 {deadline} 到期。请尽快办理。",
    ),
    "application.escalated": Template(
        "【督办升级】资源申请 {code} 待{task}逾期未办",
        "{applicant}（{organisation}）申请共享的资源 {resource}（{dataset}）自 {since} 起待{task}，"
        "已于 {deadline} 超过办理时限并提醒办理人，至今仍未办理。"
        "请督促{handler}办理。",
    ),
    "notify.test": Template(
        "【测试】消息服务测试（{channel}）",
        "这是一条测试消息，由 {actor} 发出，用于检查{channel}通道是否可用。",
    ),
}


def render(name: str, context: Mapping[str, Any]) -> Template:
    """Template ``name`` filled from ``context``; an error naming a missing field."""
    try:
        template = TEMPLATES[name]
    except KeyError:
        raise GovlakeError(f"no message template {name!r}; known: {', '.join(TEMPLATES)}") from None
    values = {k: "无" if v is None else v for k, v in context.items()}
    try:
        return Template(template.subject.format(**values), template.body.format(**values))
    except KeyError as exc:
        raise GovlakeError(f"message template {name!r} needs {exc.args[0]!r}") from None
