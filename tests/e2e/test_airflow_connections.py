"""A task resolves its source's connection through Airflow: one made with the Airflow CLI.

The pipeline DAG of the HR drop folder runs with ``dag.test()`` in this test's Airflow home; the
connection ``hr_drop`` exists only in Airflow's metadata database (no ``AIRFLOW_CONN_HR_DROP``),
and the files come from a real FTP server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import REPO

pytestmark = [
    pytest.mark.e2e,
    # Airflow's in-process Execution API imports starlette's test client, which warns on import.
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient` is deprecated"),
]
KEEP = {
    "sources": ["social_insurance_drop.yaml"],
    "pipelines": ["social_insurance_ingest.yaml"],
    "datasets": ["social_insurance.yaml"],
}
BRONZE = "bronze.social_insurance_payments"
DAG_FILE = REPO / "dags" / "govlake_pipelines.py"
PASSWORD = "p@ss/w:rd#1"  # characters that a URI must quote


def _airflow(*args: str) -> subprocess.CompletedProcess[str]:
    """The Airflow CLI, in this test's Airflow home, with this process's Fernet key.

    Airflow's unit test mode makes a Fernet key per process; a deployment shares one, so that
    the password the CLI encrypts is the one the task decrypts.
    """
    from airflow.configuration import conf

    done = subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        env={**os.environ, "AIRFLOW__CORE__FERNET_KEY": conf.get("core", "fernet_key")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def metadata_db() -> None:
    """The metadata database of this test session's Airflow home, created or upgraded."""
    _airflow("db", "migrate")


@pytest.fixture
def drop_conf(full_conf_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped conf with the HR drop folder's source, bronze dataset and pipeline only."""
    import yaml

    for folder, kept in KEEP.items():
        for path in (full_conf_dir / folder).glob("*.yaml"):
            if path.name not in kept:
                path.unlink()
    (full_conf_dir / "exchange" / "subscriptions.yaml").unlink()
    datasets = full_conf_dir / "datasets" / "social_insurance.yaml"
    declared = yaml.safe_load(datasets.read_text(encoding="utf-8"))["datasets"]
    bronze = [d for d in declared if d["zone"] == "bronze"]
    datasets.write_text(yaml.safe_dump({"datasets": bronze}, allow_unicode=True), "utf-8")
    monkeypatch.setenv("GOVLAKE_CONF", str(full_conf_dir))
    monkeypatch.setenv("GOVLAKE_RETRIES", "0")
    monkeypatch.delenv("AIRFLOW_CONN_HR_DROP", raising=False)
    # dag.test() records the DAG from its bundle: the project's dags/, reading this conf.
    bundle = {
        "name": "dags-folder",
        "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
        "kwargs": {"path": str(DAG_FILE.parent)},
    }
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([bundle]))
    return full_conf_dir


@pytest.fixture
def hr_ftp(drop_conf: Path, tmp_path: Path) -> Iterator[str]:
    """A real FTP server on the seeded drop folder; yields its URI, the password quoted."""
    from apps.demo import seed_departments
    from apps.local_servers import FtpServer
    from govlake.config.loader import load_config

    sources = load_config(drop_conf).home / "sources"
    seed_departments(sources, rows=50, days=2)
    with FtpServer.serving(sources / "hr_ftp", tmp_path / "ftp.log", password=PASSWORD) as ftp:
        yield f"ftp://{ftp.user}:{quote(PASSWORD, safe='')}@127.0.0.1:{ftp.port}"


def _run_ingest(conf_dir: Path) -> str:
    """Run the pipeline's DAG once with ``dag.test()``; its state."""
    from apps.dag_factory import build_dags

    (dag,) = [d for d in build_dags(conf_dir, fileloc=str(DAG_FILE)) if d.dag_id.endswith("ingest")]
    return str(dag.test().state)


def test_a_task_reads_the_connection_from_airflow(
    metadata_db: None,
    drop_conf: Path,
    hr_ftp: str,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    services_ready: Callable[[Path], None],
) -> None:
    from govlake.config.loader import load_config
    from govlake.lakehouse import Lakehouse

    lake = Lakehouse(load_config(drop_conf).lakehouse)
    _airflow("connections", "add", "hr_drop", "--conn-uri", hr_ftp)
    # A task acts as its pipeline's service principal: none yet, so nothing runs.
    capfd.readouterr()
    assert _run_ingest(drop_conf) == "failed"
    assert "service principal pipeline.social_insurance_ingest does not exist" in "".join(
        capfd.readouterr()
    )
    assert not lake.exists(BRONZE)
    services_ready(drop_conf)
    try:
        assert "AIRFLOW_CONN_HR_DROP" not in os.environ
        capfd.readouterr()
        assert _run_ingest(drop_conf) == "success"
        rows = lake.read(BRONZE).num_rows
        assert rows > 0
        assert PASSWORD not in "".join(capfd.readouterr())

        # Airflow reads AIRFLOW_CONN_<ID> before its metadata database.
        monkeypatch.setenv("AIRFLOW_CONN_HR_DROP", hr_ftp.replace(quote(PASSWORD, safe=""), "x"))
        assert _run_ingest(drop_conf) == "failed"
        assert "source social_insurance_drop: login refused by" in "".join(capfd.readouterr())
        monkeypatch.delenv("AIRFLOW_CONN_HR_DROP")
    finally:
        _airflow("connections", "delete", "hr_drop")

    assert _run_ingest(drop_conf) == "failed"
    output = "".join(capfd.readouterr())
    assert "connection 'hr_drop' is not defined: set AIRFLOW_CONN_HR_DROP" in output
    assert lake.read(BRONZE).num_rows == rows
