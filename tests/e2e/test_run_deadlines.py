"""A pipeline run past its deadline raises one delay alert: at its end, and from Airflow's callback.

The registry's ingest DAG runs with ``dag.test()`` in this test's Airflow home with a deadline
of one second from its logical date, an hour ago: however fast the collection, it ends late.
``dag.test()`` runs no scheduler, so Airflow's Deadline Alert does not fire there: the run's end
raises the alert. Airflow's own callback runner then calls the DAG's deadline callback as the
scheduler's executor would, for the same run (no second alert) and for a run still going (a new
one).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog

from govlake.principal import Principal
from tests.conftest import REPO

pytestmark = [
    pytest.mark.e2e,
    # Airflow's in-process Execution API imports starlette's test client, which warns on import.
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient` is deprecated"),
]
DAG_FILE = REPO / "dags" / "govlake_pipelines.py"
INGEST = "market_registry_ingest"


@pytest.fixture(scope="module")
def metadata_db() -> None:
    """The metadata database of this test session's Airflow home, created or upgraded."""
    done = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"],
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def late_conf(conf_dir: Path, registry_db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The registry's conf, its ingest due one second after its logical date."""
    path = conf_dir / "pipelines" / f"{INGEST}.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("{after: 2h, reference: queued_at}",
                                 "{after: 1s, reference: logical_date}"), "utf-8")  # fmt: skip
    monkeypatch.setenv("GOVLAKE_CONF", str(conf_dir))
    monkeypatch.setenv("GOVLAKE_RETRIES", "0")
    bundle = {
        "name": "dags-folder",
        "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
        "kwargs": {"path": str(DAG_FILE.parent)},
    }
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([bundle]))
    return conf_dir


def test_a_run_past_its_deadline_raises_one_delay_alert(
    metadata_db: None,
    late_conf: Path,
    services_ready: Callable[[Path], None],
    sign_in: Callable[..., Principal],
) -> None:
    from airflow.sdk.execution_time.callback_supervisor import execute_callback

    from apps.dag_factory import build_dags, run_in_process
    from govlake.runtime import Runtime
    from services.audit.read import events
    from services.notifications import alerts, inbox

    services_ready(late_conf)
    engineer = sign_in(late_conf, "zhao.lei", "data_engineer", org="market_regulation", token=False)
    rt = Runtime.load(late_conf)
    admin = rt.acting_as(sign_in(late_conf, "admin", token=False))
    (dag,) = [d for d in build_dags(late_conf, fileloc=str(DAG_FILE)) if d.dag_id == INGEST]
    [alert_rule] = dag.deadline
    assert alert_rule.interval.total_seconds() == 1
    run = run_in_process(dag, logical_date=datetime.now(UTC) - timedelta(hours=1))
    assert str(run.state) == "success"
    [late] = alerts.listed(admin, resolved=True)
    assert (late.kind, late.object, late.stage) == (
        "pipeline_run",
        f"dag:{INGEST}:run:{run.run_id}",
        "late",
    )
    assert late.recipients == ["may:build@dataset:bronze.enterprise_registry"]
    assert late.resolved_at is not None and late.resolved_at > late.deadline
    assert alerts.listed(admin) == []  # the run is over
    [told] = [i for i in inbox.inbox(rt.acting_as(engineer)) if i.event == "run.late"]
    assert told.subject == f"【告警】流程 {INGEST} 的运行 {run.run_id} 已超过时限"
    assert "时限：逻辑日期起 1秒" in told.body and "（UTC）结束" in told.body
    assert [e.action for e in events(admin, object=late.object)] == ["alerts.delay"]

    # Airflow's executor runs the DAG's deadline callback with the scheduler's context.
    log = structlog.get_logger("deadline")  # as Airflow's callback supervisor logs
    callback = alert_rule.callback

    def missed(run_id: str) -> tuple[bool, str | None]:
        context = {"dag_run": {"dag_run_id": run_id, "dag_id": INGEST},
                   "deadline": {"id": "1", "deadline_time": late.deadline.isoformat()}}  # fmt: skip
        kwargs = {**callback.kwargs, "context": context}
        return execute_callback(callback.path, kwargs, DAG_FILE.name, DAG_FILE.parent, log)

    assert missed(run.run_id) == (True, None)
    assert len(alerts.listed(admin, resolved=True)) == 1  # the same run: raised already
    assert missed("scheduled__still_going") == (True, None)
    [going] = alerts.listed(admin)
    assert going.object == f"dag:{INGEST}:run:scheduled__still_going"
    assert going.resolved_at is None
