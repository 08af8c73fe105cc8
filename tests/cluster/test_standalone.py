"""A real Spark standalone cluster on loopback: the silver step gives the local-mode result."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pyspark
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.cluster
SPARK_CLASS = Path(pyspark.__file__).parent / "bin" / "spark-class"

JOB = """
import json, sys
from govlake.config.models import SparkConfig
from govlake.lakehouse import LINEAGE_COLUMNS
from jobs.spark.session import spark_session
from jobs.spark.transform import run_on_spark
spark = spark_session(SparkConfig(master=sys.argv[1], shuffle_partitions=3,
                                  options={"spark.ui.enabled": "false"}))
bronze = spark.read.format("govdelta").load(sys.argv[2]).toArrow()
bronze = bronze.drop_columns(list(LINEAGE_COLUMNS))
out = run_on_spark(spark, "jobs.enterprise_registry:standardise",
                   {"bronze.enterprise_registry": bronze}, keys=["uscc"],
                   latest_by="updated_at", partitions=3)
print(json.dumps([sorted(map(str, out.rows.to_pylist())),
                  sorted(map(str, out.rejects.to_pylist()))]))
print("workers:", spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size())
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A master and one worker from the installed pyspark, stopped afterwards."""
    logs = tmp_path_factory.mktemp("spark")
    port, ui, worker_ui = _free_port(), _free_port(), _free_port()
    env = {
        **os.environ,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_HOME": str(SPARK_CLASS.parent.parent),
        "SPARK_WORKER_DIR": str(logs),
    }
    master_log, worker_log = (logs / "master.log").open("w"), (logs / "worker.log").open("w")
    master = subprocess.Popen(
        [
            str(SPARK_CLASS),
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--webui-port",
            str(ui),
        ],
        env=env,
        stdout=master_log,
        stderr=subprocess.STDOUT,
    )
    worker = subprocess.Popen(
        [
            str(SPARK_CLASS),
            "org.apache.spark.deploy.worker.Worker",
            f"spark://127.0.0.1:{port}",
            "--host",
            "127.0.0.1",
            "--webui-port",
            str(worker_ui),
            "--cores",
            "2",
            "--memory",
            "2g",
        ],
        env=env,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ui}/json/", timeout=2) as r:
                    if json.load(r).get("aliveworkers", 0) >= 1:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"no worker registered; see {logs}")
            time.sleep(1)
        yield f"spark://127.0.0.1:{port}"
    finally:
        for process in (worker, master):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        master_log.close()
        worker_log.close()


def _run(master: str, bronze: str) -> tuple[list[list[str]], str]:
    """Rows and rejects of the silver transform run on ``master``, and its executor count."""
    done = subprocess.run(
        [sys.executable, "-c", JOB, master, bronze],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-2]), lines[-1]


def test_silver_on_the_cluster_equals_local_mode(cluster: str, project, registry_db) -> None:  # noqa: ANN001
    from govlake.lakehouse import Lakehouse
    from jobs.runner import run_pipeline

    run_pipeline(project, "market_registry_ingest")
    bronze = Lakehouse(project.lakehouse).uri("bronze.enterprise_registry")
    on_cluster, executors = _run(cluster, bronze)
    local, _ = _run("local[2]", bronze)
    assert executors == "workers: 2", "the driver and one worker's executor"
    assert on_cluster == local
    rows, rejects = on_cluster
    assert len(rows) > 250
    assert rejects, "rejects come back"
    assert all("'_reason': '" in r for r in rejects), "every reject carries its reason"
