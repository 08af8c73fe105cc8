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
from typing import Any

from govlake.runtime import Runtime
from services.identity.service_accounts import (
    MAINTENANCE,
    MESSENGER,
    acting_service,
    node_service,
    pipeline_service,
)


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


def task_failed(conf_dir: str, *, dag: str, task: str, run: str, attempt: int, error: str) -> int:
    """Tell who may fix it that a task of a govlake DAG failed; the message's id.

    A pipeline's failure goes to whoever may build its tables, an exchange DAG's to whoever may
    approve its node (the policy's answer, people only).
    """
    from services.notifications import Notice, notify

    rt = Runtime.load(conf_dir)
    pipeline = rt.config.pipelines.get(dag)
    if pipeline is not None:
        recipients = [f"may:build@dataset:{ref}" for ref in pipeline.builds]
    else:
        sub = rt.config.subscriptions.get(dag.removeprefix("exchange__"))
        node = sub.node if sub else None
        recipients = [f"may:approve_node@node:{node}"] if node else []
    platform = rt.config.catalog.platform_department
    recipients = recipients or [f"role:platform_admin@{platform}"]
    context = {"dag": dag, "task": task, "run": run, "attempt": attempt, "error": error[:500]}
    return notify(rt, Notice("task.failed", f"dag:{dag}", recipients, context), by=f"dag:{dag}")


def _as(conf: str | Runtime, service: str) -> Runtime:
    """The runtime of conf folder ``conf`` acting as ``service``; files made owner-only."""
    from apps.doctor import owner_only

    owner_only()
    return acting_service(conf if isinstance(conf, Runtime) else Runtime.load(conf), service)
