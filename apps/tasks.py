"""What every DAG task runs: build the runtime once, do one unit of work, return an XCom summary.

The DAG factory wires these functions into tasks with plain values (the conf folder, a dataset
or subscription name, the run id); each builds one :class:`~govlake.runtime.Runtime` acting as
the task's service principal (``pipeline.<name>``, ``node.<name>``: see
:mod:`services.identity.service_accounts`) and runs the work through :mod:`apps.guarded`, so a
task passes the same policy check and leaves the same audit rows as a person's command.
Nothing here imports Airflow, and each task imports only the work it runs.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from govlake.runtime import Runtime
from services.identity.service_accounts import (
    MAINTENANCE,
    MESSENGER,
    acting_service,
    node_service,
    pipeline_service,
)
from services.identity.settings import Clock, utc_now


def build(conf_dir: str, ref: str, *, pipeline: str, run_id: str) -> list[dict[str, Any]]:
    """Collect or derive ``ref``: one row per table written."""
    from apps.guarded import build_dataset

    rt = _as(conf_dir, pipeline_service(pipeline))
    results = build_dataset(rt, ref, pipeline=pipeline, run_id=run_id)
    return [
        {"table": r.ref, "rows": r.rows, "version": r.version, "status": r.status} for r in results
    ]


def register_in_catalog(conf_dir: str, refs: list[str], *, pipeline: str) -> dict[str, Any]:
    """Generate and register the catalog entries of the tables ``refs``."""
    from apps.guarded import register_in_catalog as register

    report = register(_as(conf_dir, pipeline_service(pipeline)), refs)
    return {
        "entries": [
            {"code": r.code, "dataset": r.dataset, "version": r.version, "outcome": r.outcome}
            for r in report.registrations
        ],
        "not_built": report.not_built,
        "warnings": report.warnings,
    }


def deliver_subscription(conf_dir: str, subscription: str) -> dict[str, Any]:
    """Deliver the subscription's next batch.

    A refusal (no grant in force, node not approved) is in the ledger and the audit, and ends
    the task *skipped* with its reason, so that the Airflow UI shows that nothing went out.
    """
    from airflow.sdk.exceptions import AirflowSkipException

    from apps.guarded import DeliveryRefused, deliver

    rt = Runtime.load(conf_dir)
    rt = _as(rt, node_service(rt.config.subscription(subscription).node))
    try:
        return asdict(deliver(rt, subscription, progress=print))
    except DeliveryRefused as exc:
        raise AirflowSkipException(f"{exc}; the ledger records the refusal") from None


def maintain_table(conf_dir: str, ref: str) -> list[dict[str, Any]]:
    """Compact and vacuum ``ref`` and its quarantine."""
    from apps.guarded import maintain
    from govlake.errors import GovlakeError

    done = maintain(_as(conf_dir, pipeline_service(MAINTENANCE)), [ref])
    problems = [r.problem for r in done if r.problem]
    if problems:
        raise GovlakeError("; ".join(problems))
    return [asdict(r) for r in done]


def send_messages(conf_dir: str) -> dict[str, int]:
    """Send the deliveries that are due, as the message worker's service."""
    from services.notifications.worker import work

    return work(_as(conf_dir, MESSENGER)).as_details()


def check_overdue(conf_dir: str) -> dict[str, int]:
    """Warn and escalate overdue application steps, tell of stale datasets: the message worker."""
    from catalog.sharing.overdue import check
    from services.notifications.stale_data import check as check_freshness

    rt = _as(conf_dir, MESSENGER)
    raised = check(rt)
    counts = {stage: sum(r.stage == stage for r in raised) for stage in ("warning", "escalation")}
    return {**counts, "stale": len(check_freshness(rt))}


def task_failed(conf_dir: str, *, dag: str, task: str, run: str, attempt: int, error: str) -> int:
    """Tell who may fix it that a task of a govlake DAG failed; the message's id."""
    from services.notifications import Notice, notify

    rt = Runtime.load(conf_dir)
    context = {"dag": dag, "task": task, "run": run, "attempt": attempt, "error": error[:500]}
    notice = Notice("task.failed", f"dag:{dag}", _responsible(rt, dag), context)
    return notify(rt, notice, by=f"dag:{dag}")


def run_late(
    conf_dir: str,
    *,
    dag: str,
    run: str,
    due: datetime,
    ended: datetime | None = None,
    clock: Clock = utc_now,
) -> bool:
    """Raise the delay alert of run ``run`` of ``dag``, due at ``due``, once; whether raised now.

    Airflow's deadline callback calls it while the run is still going; the run's end calls it
    with ``ended``: late only if it ended after ``due``, and its alert is resolved then.
    """
    from services.identity import trail
    from services.notifications import Notice
    from services.notifications.alerts import raise_once, resolve

    rt = Runtime.load(conf_dir)
    now = clock()
    about = f"dag:{dag}:run:{run}"
    raised = False
    if (ended or now) > due:
        notice = Notice(
            "run.late", about, _responsible(rt, dag), _late_context(rt, dag, run, due, ended)
        )
        kind = "pipeline_run" if dag in rt.config.pipelines else "subscription_run"
        raised = raise_once(rt, kind=kind, stage="late", deadline=due, notice=notice,
                            by=f"dag:{dag}", clock=clock)  # fmt: skip
        if raised:
            details = {"deadline": due.isoformat(), "ended": ended and ended.isoformat()}
            trail.write(rt, f"dag:{dag}", "alerts.delay", about, "success", details)
    if ended is not None:
        with rt.platform_db.begin() as conn:
            resolve(conn, about, ended)
    return raised


def _late_context(
    rt: Runtime, dag: str, run: str, due: datetime, ended: datetime | None
) -> dict[str, Any]:
    pipeline = rt.config.pipelines.get(dag)
    entry = pipeline or rt.config.subscriptions.get(dag.removeprefix("exchange__"))
    deadline = entry.deadline if entry else None
    state = f"实际于 {ended:%Y-%m-%d %H:%M:%S}（UTC）结束" if ended else "至今仍未完成"
    return {
        "what": "流程" if pipeline else "交换订阅", "name": dag, "run": run,
        "title": entry.title if entry else dag, "deadline": f"{due:%Y-%m-%d %H:%M:%S}",
        "state": state,
        "reference": REFERENCES[deadline.reference] if deadline else "运行开始",
        "after": _span(deadline.after) if deadline else "",
    }  # fmt: skip


REFERENCES = {"queued_at": "进入队列", "logical_date": "逻辑日期"}


def _span(span: timedelta) -> str:
    """``1天2小时30分`` for a time span (seconds only when there are any)."""
    minutes, seconds = divmod(int(span.total_seconds()), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [(days, "天"), (hours, "小时"), (minutes, "分"), (seconds, "秒")]
    return "".join(f"{n}{unit}" for n, unit in parts if n) or "0秒"


def _responsible(rt: Runtime, dag: str) -> list[str]:
    """Who answers for a govlake DAG (the policy's answer, people only).

    Whoever may build a pipeline's tables, or approve an exchange DAG's node; else the
    platform administrators.
    """
    pipeline = rt.config.pipelines.get(dag)
    if pipeline is not None:
        recipients = [f"may:build@dataset:{ref}" for ref in pipeline.builds]
    else:
        sub = rt.config.subscriptions.get(dag.removeprefix("exchange__"))
        node = sub.node if sub else None
        recipients = [f"may:approve_node@node:{node}"] if node else []
    platform = rt.config.catalog.platform_department
    return recipients or [f"role:platform_admin@{platform}"]


def _as(conf: str | Runtime, service: str) -> Runtime:
    """The runtime of conf folder ``conf`` acting as ``service``; files made owner-only."""
    from apps.doctor import owner_only

    owner_only()
    return acting_service(conf if isinstance(conf, Runtime) else Runtime.load(conf), service)
