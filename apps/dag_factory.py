"""Build one Airflow DAG per pipeline declared in ``conf/pipelines``.

A DAG only wires tasks: each task calls one function of :mod:`apps.tasks` with plain values (the
conf folder, a dataset reference, the pipeline name, the run id) and declares the dataset's
Asset ``delta://<zone>/<table>`` as its outlet. A pipeline scheduled ``on_update`` runs when any
of its inputs built by another pipeline is updated, so producers and consumers are linked by
Assets rather than by timetables. The last task of every pipeline DAG registers the tables it
built in the data catalog. Heavy imports happen inside the task, at run time.
``GOVLAKE_RETRIES`` overrides every pipeline's retries (the demo and the tests set 0, so that a
failure fails at once instead of waiting for a retry). A task that fails tells who may fix it,
through the message service; the ``notify_worker`` DAG sends the messages. A pipeline or
subscription with a ``deadline`` gets Airflow's Deadline Alert and a check at the run's end,
both raising one delay alert per late run.
"""

from __future__ import annotations

import functools
import operator
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, get_current_context, task

# airflow.sdk exports these three lazily, where mypy cannot see them: the modules it loads.
from airflow.sdk.definitions.callback import SyncCallback
from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

from govlake.config.exchange import Subscription
from govlake.config.loader import load_config
from govlake.config.models import Dataset, Deadline, Pipeline
from govlake.config.project import ProjectConfig

START_DATE = datetime(2024, 1, 1, tzinfo=UTC)


def asset_for(dataset: Dataset) -> Asset:
    """The Airflow Asset of a lakehouse table: ``delta://<zone>/<table>``."""
    return Asset(name=dataset.ref, uri=dataset.asset_uri, group="lakehouse")


def _failed(conf_dir: str, context: Any) -> None:
    """``on_failure_callback``: the message service tells who may fix it (apps.tasks)."""
    from apps import tasks

    ti = context["ti"]
    tasks.task_failed(conf_dir, dag=ti.dag_id, task=ti.task_id, run=str(context["run_id"]),
                      attempt=int(ti.try_number), error=str(context.get("exception")))  # fmt: skip


def deadline_missed(conf_dir: str, dag: str, context: dict[str, Any]) -> None:
    """Airflow's deadline callback: the run is still going past its deadline (apps.tasks).

    The scheduler calls it with a context naming the run and the deadline's time.
    """
    from apps import tasks

    due = context["deadline"]["deadline_time"]
    due = due if isinstance(due, datetime) else datetime.fromisoformat(str(due))
    tasks.run_late(conf_dir, dag=dag, run=str(context["dag_run"]["dag_run_id"]), due=due)


def _run_ended(conf_dir: str, deadline: Deadline, context: Any) -> None:
    """The DAG's ``on_success_callback`` and ``on_failure_callback``: a run that ended late."""
    from apps import tasks

    run = context["dag_run"]
    # The Task SDK's run (a callback in the DAG processor) has no queued_at: run_after is the
    # earliest it could have been queued, so a run left waiting in the queue is still late.
    start = getattr(run, deadline.reference, None) or getattr(run, "run_after", None)
    start = start or run.start_date
    tasks.run_late(conf_dir, dag=run.dag_id, run=str(run.run_id), due=start + deadline.after,
                   ended=datetime.now(UTC))  # fmt: skip


def deadline_args(dag_id: str, deadline: Deadline | None, conf_dir: str) -> dict[str, Any]:
    """The DAG arguments of a declared deadline: Airflow's Deadline Alert, and the run's end.

    Airflow's scheduler calls :func:`deadline_missed` when a run is still going at its deadline
    (docs/adr/0020-delay-alerts.md); the end of a run that ended late raises the same alert,
    under the same key, where no scheduler watches deadlines (``dag.test()``).
    """
    if deadline is None:
        return {}
    references = {"queued_at": DeadlineReference.DAGRUN_QUEUED_AT,
                  "logical_date": DeadlineReference.DAGRUN_LOGICAL_DATE}  # fmt: skip
    reference = references[deadline.reference]
    callback = SyncCallback(deadline_missed, kwargs={"conf_dir": conf_dir, "dag": dag_id})
    ended = functools.partial(_run_ended, conf_dir, deadline)
    return {
        "deadline": DeadlineAlert(reference=reference, interval=deadline.after, callback=callback,
                                  name=f"{dag_id}_deadline"),
        "on_success_callback": ended,
        "on_failure_callback": ended,
    }  # fmt: skip


def run_in_process(dag: DAG, logical_date: datetime | None = None) -> Any:
    """``dag.test()`` of ``dag`` at ``logical_date``, without its Deadline Alert (its end checks).

    Airflow 3.3.2's ``dag.test()`` fails a run that ends with a Deadline Alert declared: it
    looks the alerts up by id in its own copy of the DAG, which holds them serialized instead.
    The scheduler's copy holds ids, so deployments are unaffected (docs/adr/0020-delay-alerts.md).
    """
    dag.deadline = None
    return dag.test(logical_date=logical_date)


def _default_args(owner: str, retries: int, delay: timedelta, conf_dir: str) -> dict[str, Any]:
    """Owner, retries (``GOVLAKE_RETRIES`` first) and the failure message of every task."""
    return {
        "owner": owner,
        "retries": int(os.environ.get("GOVLAKE_RETRIES", retries)),
        "retry_delay": delay,
        "on_failure_callback": functools.partial(_failed, conf_dir),
    }


@task
def build(conf_dir: str, ref: str, pipeline: str) -> list[dict[str, Any]]:
    """Collect or derive one lakehouse table (see apps.tasks.build)."""
    from apps import tasks

    run_id = str(get_current_context()["run_id"])
    return tasks.build(conf_dir, ref, pipeline=pipeline, run_id=run_id)


@task(task_id="catalog")
def register_in_catalog(conf_dir: str, refs: list[str], pipeline: str) -> dict[str, Any]:
    """Generate and register the catalog entries of the tables the DAG built."""
    from apps import tasks

    return tasks.register_in_catalog(conf_dir, refs, pipeline=pipeline)


def _doc_md(pipeline: Pipeline, config: ProjectConfig) -> str:
    rows = "\n".join(
        f"| `{ref}` | {config.datasets[ref].title} | {config.datasets[ref].write} |"
        for ref in pipeline.builds
    )
    owner = config.departments[pipeline.owner].name
    return (
        f"## {pipeline.title}\n\n{pipeline.description}\n\n"
        f"Owner: {owner} (`{pipeline.owner}`). "
        f"Declared in `conf/pipelines/{pipeline.name}.yaml`.\n\n"
        f"| table | title | write |\n|---|---|---|\n{rows}\n"
    )


def _schedule(pipeline: Pipeline, config: ProjectConfig) -> Any:
    if pipeline.schedule != "on_update":
        return pipeline.schedule
    upstream = config.graph.external_inputs(pipeline.name)
    return functools.reduce(operator.or_, [asset_for(config.datasets[ref]) for ref in upstream])


def build_dag(pipeline: Pipeline, config: ProjectConfig, fileloc: str | None = None) -> DAG:
    """The DAG of one pipeline: a task per built table, ordered by their inputs.

    ``fileloc`` is the DAG file that calls the factory, so Airflow serializes the DAG as
    belonging to its DAG bundle rather than to this module.
    """
    with DAG(
        dag_id=pipeline.name,
        description=pipeline.title,
        doc_md=_doc_md(pipeline, config),
        schedule=_schedule(pipeline, config),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["govlake", *pipeline.tags],
        default_args=_default_args(
            pipeline.owner,
            pipeline.retries,
            timedelta(minutes=pipeline.retry_delay_minutes),
            str(config.conf_dir),
        ),  # fmt: skip
        **deadline_args(pipeline.name, pipeline.deadline, str(config.conf_dir)),
    ) as dag:
        tasks: dict[str, Any] = {}
        for ref in pipeline.builds:
            step = build.override(
                task_id=ref.replace(".", "__"), outlets=[asset_for(config.datasets[ref])]
            )(str(config.conf_dir), ref, pipeline.name)
            for upstream in config.datasets[ref].inputs:
                if upstream in tasks:
                    tasks[upstream] >> step
            tasks[ref] = step
        list(tasks.values()) >> register_in_catalog(
            str(config.conf_dir), list(pipeline.builds), pipeline.name
        )
    if fileloc:
        dag.fileloc = fileloc
    return dag


@task
def maintain_table(conf_dir: str, ref: str) -> list[dict[str, Any]]:
    """Compact and vacuum one table and its quarantine (see apps.tasks.maintain_table)."""
    from apps import tasks

    return tasks.maintain_table(conf_dir, ref)


def build_maintenance_dag(config: ProjectConfig, fileloc: str | None = None) -> DAG:
    """One DAG that compacts and vacuums every declared table on the configured schedule."""
    with DAG(
        dag_id="lakehouse_maintenance",
        description="Compact small files and vacuum unreferenced ones",
        doc_md=(
            "## Lakehouse maintenance\n\nCompacts small files (`optimize`) and removes files "
            f"unreferenced for more than {config.lakehouse.vacuum_retention_hours} hours "
            "(`vacuum`) in every declared table and its quarantine. Tables not created yet "
            "are skipped. Schedule: `maintenance_schedule` in `conf/lakehouse.yaml`."
        ),
        schedule=config.lakehouse.maintenance_schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["govlake", "maintenance"],
        default_args=_default_args("platform", 1, timedelta(minutes=10), str(config.conf_dir)),
    ) as dag:
        for ref in config.datasets:
            maintain_table.override(task_id=ref.replace(".", "__"))(str(config.conf_dir), ref)
    if fileloc:
        dag.fileloc = fileloc
    return dag


@task
def deliver(conf_dir: str, subscription: str) -> dict[str, Any]:
    """Deliver the subscription's next batch (see apps.tasks.deliver_subscription)."""
    from apps import tasks

    return tasks.deliver_subscription(conf_dir, subscription)


def build_exchange_dag(sub: Subscription, config: ProjectConfig, fileloc: str | None = None) -> DAG:
    """The DAG of one subscription: deliver its dataset's new batch to the node."""
    node = config.nodes[sub.node]
    schedule = (
        asset_for(config.dataset(sub.dataset)) if sub.schedule == "on_update" else sub.schedule
    )
    with DAG(
        dag_id=f"exchange__{sub.name}",
        description=sub.title,
        doc_md=(
            f"## {sub.title}\n\n`{sub.dataset}` to {node.title} (`{node.name}`, endpoint "
            f"`{sub.endpoint}`), {sub.mode}. Declared in `conf/exchange/subscriptions.yaml`; "
            "every attempt is in the exchange ledger (`govlake exchange report`)."
        ),
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["govlake", "exchange", node.department],
        default_args={
            **_default_args(
                "platform",
                sub.retries,
                timedelta(minutes=sub.retry_delay_minutes),
                str(config.conf_dir),
            ),
            "retry_exponential_backoff": 2.0,
        },  # fmt: skip
        **deadline_args(f"exchange__{sub.name}", sub.deadline, str(config.conf_dir)),
    ) as dag:
        deliver.override(task_id="deliver")(str(config.conf_dir), sub.name)
    if fileloc:
        dag.fileloc = fileloc
    return dag


@task
def send_messages(conf_dir: str) -> dict[str, int]:
    """Send the deliveries that are due (see apps.tasks.send_messages)."""
    from apps import tasks

    return tasks.send_messages(conf_dir)


@task
def check_overdue(conf_dir: str) -> dict[str, int]:
    """Warn and escalate overdue application steps (see apps.tasks.check_overdue)."""
    from apps import tasks

    return tasks.check_overdue(conf_dir)


def build_notify_dag(config: ProjectConfig, fileloc: str | None = None) -> DAG:
    """The message worker: raises the overdue applications' alerts, then sends what is due."""
    settings = config.platform.notifications
    with DAG(
        dag_id="notify_worker",
        description="Send the messages that are due",
        doc_md=(
            "## Message worker\n\nSends every e-mail and webhook delivery that is due, tries "
            "failed ones again later and takes back those a stopped worker left sending, as "
            "the service `notify.worker`, after warning and escalating the application steps "
            "past their handling time (`govlake alerts list`). The send log: `govlake notify "
            "log`. Schedule: `notifications.schedule` in `conf/platform.yaml`."
        ),
        schedule=settings.schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["govlake", "notifications"],
        default_args=_default_args("platform", 1, timedelta(minutes=1), str(config.conf_dir)),
    ) as dag:
        overdue = check_overdue.override(task_id="check_overdue")(str(config.conf_dir))
        # what is due goes out even when the check failed
        send = send_messages.override(task_id="send", trigger_rule="all_done")
        overdue >> send(str(config.conf_dir))
    if fileloc:
        dag.fileloc = fileloc
    return dag


def build_dags(conf_dir: str | Path | None = None, fileloc: str | None = None) -> Iterator[DAG]:
    """Every pipeline's DAG, producers first, the exchange DAGs, maintenance, the worker."""
    config = load_config(conf_dir)
    for pipeline in config.pipeline_order():
        yield build_dag(pipeline, config, fileloc)
    for sub in config.subscriptions.values():
        yield build_exchange_dag(sub, config, fileloc)
    yield build_maintenance_dag(config, fileloc)
    yield build_notify_dag(config, fileloc)
