"""Fixed costs: a 10-task DAG through Airflow, a Spark start with a 1-row write, 1-row commits.

Arms, each in a fresh process:
- ``dag``: ten chained no-op tasks through govlake's Airflow setup (the project's Airflow home,
  metadata database already migrated) and ``dag.test()``: the cost of running work as tasks;
- ``spark``: a cold local SparkSession (``jobs.spark.session``) plus a 1-row Delta write through
  the ``govdelta`` data source;
- ``govlake_write``: a 1-row write through ``Lakehouse.write`` (lineage columns, commit
  metadata, batch id as an application transaction);
- ``delta_rs``: a 1-row ``write_deltalake``, the floor of a Delta commit.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.harness import serve_arm

ARMS = ["dag", "spark", "govlake_write", "delta_rs"]
REFERENCE = "delta_rs"
IMPORTS = {
    "spark": ["pyspark.sql", "jobs.spark.session", "jobs.spark.delta_source"],
    "govlake_write": ["govlake.lakehouse"],
    "delta_rs": ["deltalake", "pyarrow.dataset"],  # write_deltalake imports it on first use
}
TASKS = 10
CONF = Path(__file__).resolve().parent.parent / "conf"


def title(params: dict[str, Any]) -> str:
    """The scenario's heading."""
    return "Fixed costs: a 10-task no-op DAG, a Spark start with a 1-row write, 1-row commits"


DAG_FILE = f"""\
from airflow.sdk import chain, dag, task


@task
def noop(number: int) -> int:
    return number


@dag(dag_id="bench_noop", schedule=None, catchup=False)
def bench_noop() -> None:
    chain(*[noop.override(task_id=f"t{{i}}")(i) for i in range({TASKS})])


bench_noop_dag = bench_noop()
"""


def _activate(params: dict[str, Any]) -> None:
    import os

    from apps.airflow_home import activate

    os.environ["GOVLAKE_DAGS"] = params["dags"]
    activate(Path(params["home"]), CONF)


@contextmanager
def prepared(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """An Airflow home (metadata database migrated) and a DAG folder, shared by the runs."""
    with tempfile.TemporaryDirectory(prefix="govlake-bench-airflow-") as home:
        dags = Path(home) / "dags"
        dags.mkdir()
        (dags / "bench_noop.py").write_text(DAG_FILE)
        ready = {**params, "home": home, "dags": str(dags)}
        _activate(ready)
        yield ready


def _warm_dag(params: dict[str, Any]) -> None:
    """Airflow's home set and Airflow imported: the arm measures the run alone."""
    _activate(params)
    import airflow.sdk  # noqa: F401


def arm_dag(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """Ten chained no-op tasks from a DAG file in the DAG folder, run by ``dag.test()``."""
    import runpy

    namespace = runpy.run_path(str(Path(params["dags"]) / "bench_noop.py"))
    run = namespace["bench_noop_dag"].test()
    state = str(getattr(run.state, "value", run.state))
    if state != "success":
        raise RuntimeError(f"the no-op DAG ended {state}")
    return {"state": state, "tasks": TASKS}


def arm_spark(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """A cold local SparkSession and one row written through govdelta."""
    from govlake.config.models import SparkConfig
    from jobs.spark.session import spark_session, stop_sessions

    spark = spark_session(SparkConfig(options={"spark.ui.enabled": "false"}))
    spark.createDataFrame([(1, "一")], "id long, name string").write.format("govdelta").mode(
        "append"
    ).save(str(work / "t"))
    stop_sessions()
    return {}


def arm_govlake_write(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """One row through govlake's lakehouse write."""
    import pyarrow as pa

    from govlake.config.models import LakehouseConfig
    from govlake.lakehouse import Commit, Lakehouse

    lake = Lakehouse(LakehouseConfig(root=str(work / "lake")))
    row = pa.table({"id": [1], "name": ["一"]})
    lake.write("bronze.t", row, Commit("b", "r", "b1", "s"), mode="append")
    return {}


def arm_delta_rs(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """One row through ``write_deltalake``."""
    import pyarrow as pa
    from deltalake import write_deltalake

    write_deltalake(str(work / "t"), pa.table({"id": [1], "name": ["一"]}))
    return {}


if __name__ == "__main__":
    serve_arm({name: globals()[f"arm_{name}"] for name in ARMS}, IMPORTS, {"dag": _warm_dag})
