"""A real Spark standalone cluster on loopback: the scenario's jobs give the local-mode tables."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyspark
import pytest

from govlake.config.loader import load_config
from tests.conftest import REPO, collect_scenario, derived_tables, refining_pipelines

SignIn = Callable[..., object]

pytestmark = pytest.mark.cluster
SPARK_CLASS = Path(pyspark.__file__).parent / "bin" / "spark-class"
GOVLAKE = Path(sys.executable).parent / "govlake"
ROWS = 300


@dataclass(frozen=True)
class Cluster:
    """A running standalone cluster: its master URL and the master's web UI."""

    master: str
    ui: str

    def status(self) -> dict[str, Any]:
        """The master's status page as JSON (workers, applications)."""
        with urllib.request.urlopen(f"{self.ui}/json/", timeout=5) as response:
            return dict(json.load(response))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
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
            except (OSError, ValueError):  # not up yet, or a page still being rendered
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"no worker registered; see {logs}")
            time.sleep(1)
        yield Cluster(f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{ui}")
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


def _derive(
    conf: Path, home: Path, master: str, monkeypatch: pytest.MonkeyPatch, sign_in: SignIn
) -> dict[str, list[str]]:
    """Silver and gold built from ``home``'s bronze by ``govlake run``, with Spark at ``master``,
    as an engineer of the city (whose subtree owns every dataset)."""
    monkeypatch.setenv("GOVLAKE_HOME", str(home))
    sign_in(conf, "engineer", "data_engineer", org="jinan")
    engine = conf / "engine.yaml"
    engine.write_text(
        engine.read_text(encoding="utf-8").replace("master: local[*]", f"master: {master}"),
        encoding="utf-8",
    )
    project = load_config(conf)
    assert {d.engine for d in project.datasets.values() if d.zone != "bronze"} == {"spark"}
    assert project.engine.spark.master == master
    done = subprocess.run(
        [str(GOVLAKE), "run", *refining_pipelines(conf), "--conf", str(conf)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return derived_tables(conf)


def test_scenario_on_the_cluster_equals_local_mode(
    cluster: Cluster,
    full_conf_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sign_in: SignIn,
) -> None:
    """The conf's master alone moves every silver and gold job onto the cluster."""
    collect_scenario(full_conf_dir, ROWS)
    home = load_config(full_conf_dir).home
    local_home, local_conf = tmp_path / "local_home", tmp_path / "local_conf"
    shutil.copytree(home, local_home)
    shutil.copytree(full_conf_dir, local_conf)

    on_cluster = _derive(full_conf_dir, home, cluster.master, monkeypatch, sign_in)
    local = _derive(local_conf, local_home, "local[2]", monkeypatch, sign_in)
    assert on_cluster == local
    assert len(on_cluster["gold.enterprise_credit_profile"]) > 250
    rejects = on_cluster["silver.enterprise_registry__quarantine"]
    assert rejects and all("'_reason': '" in r for r in rejects), "every reject has its reason"
    status = cluster.status()
    ran = status["completedapps"] + status["activeapps"]
    assert [a["name"] for a in ran] == ["govlake"], "one application ran on the cluster"
