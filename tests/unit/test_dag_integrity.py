"""Every DAG in dags/ imports cleanly and carries what operators rely on in the Airflow UI."""

from __future__ import annotations

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def dagbag():  # noqa: ANN201
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_dags_import_without_errors(dagbag) -> None:  # noqa: ANN001
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {
        "market_registry_ingest",
        "enterprise_registry_refine",
        "social_insurance_ingest",
        "social_insurance_refine",
        "penalty_notices_crawl",
        "penalty_notices_refine",
        "credit_profile_publish",
        "exchange__credit_profile_to_tax",
        "exchange__credit_profile_to_credit_platform",
        "exchange__penalty_notices_to_hr",
        "lakehouse_maintenance",
        "notify_worker",
    }


def test_exchange_dags_deliver_on_their_schedule_with_backoff(dagbag) -> None:  # noqa: ANN001
    tax = dagbag.dags["exchange__credit_profile_to_tax"]
    assert tax.timetable.expression == "30 1 * * *" and "tax" in tax.tags
    (deliver,) = tax.tasks
    assert deliver.retries == 3 and deliver.retry_exponential_backoff


def test_every_dag_has_owner_retries_tags_and_docs(dagbag) -> None:  # noqa: ANN001
    for dag in dagbag.dags.values():
        assert "govlake" in dag.tags and len(dag.tags) > 1, dag.dag_id
        assert dag.doc_md and dag.doc_md.startswith("## "), dag.dag_id
        assert not dag.catchup and dag.max_active_runs == 1
        for task in dag.tasks:
            assert task.owner not in {"", "airflow"}, task.task_id
            assert task.retries >= 1, task.task_id


def test_assets_link_producers_and_consumers(dagbag) -> None:  # noqa: ANN001
    ingest = dagbag.dags["market_registry_ingest"]
    refine = dagbag.dags["enterprise_registry_refine"]
    collect = ingest.get_task("bronze__enterprise_registry")
    assert [o.uri for o in collect.outlets] == ["delta://bronze/enterprise_registry"]
    assert refine.schedule.uri == "delta://bronze/enterprise_registry"
    silver = refine.get_task("silver__enterprise_registry")
    gold = refine.get_task("gold__enterprise_directory")
    assert gold.upstream_task_ids == {silver.task_id}
    assert [o.uri for o in gold.outlets] == ["delta://gold/enterprise_directory"]


def test_every_pipeline_dag_ends_by_registering_its_tables_in_the_catalog(dagbag) -> None:  # noqa: ANN001
    refine = dagbag.dags["enterprise_registry_refine"]
    catalog = refine.get_task("catalog")
    assert catalog.upstream_task_ids == {
        "silver__enterprise_registry",
        "gold__enterprise_directory",
    }
    for dag in dagbag.dags.values():
        if not dag.dag_id.startswith(("exchange__", "lakehouse_", "notify_")):
            assert dag.get_task("catalog").downstream_task_ids == set(), dag.dag_id


def test_every_task_reports_its_failure_and_a_dag_sends_the_messages(dagbag) -> None:  # noqa: ANN001
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            assert task.on_failure_callback, task.task_id
    worker = dagbag.dags["notify_worker"]
    assert worker.timetable.expression == "*/5 * * * *"
    assert [t.task_id for t in worker.tasks] == ["check_overdue", "send"]
    assert worker.get_task("send").trigger_rule == "all_done"


def test_a_declared_deadline_is_an_airflow_deadline_alert(dagbag) -> None:  # noqa: ANN001
    ingest, tax = (
        dagbag.dags["market_registry_ingest"],
        dagbag.dags["exchange__credit_profile_to_tax"],
    )
    assert [type(a.reference).__name__ for a in (*ingest.deadline, *tax.deadline)] == [
        "DagRunQueuedAtDeadline", "DagRunLogicalDateDeadline"
    ]  # fmt: skip
    [alert] = ingest.deadline
    assert alert.interval.total_seconds() == 2 * 3600
    assert alert.callback.path == "apps.dag_factory.deadline_missed"
    assert ingest.has_on_success_callback and ingest.has_on_failure_callback
    assert not dagbag.dags["enterprise_registry_refine"].deadline
