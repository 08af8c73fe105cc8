"""Build datasets and pipelines by name, as DAG tasks and ``govlake run`` do."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from govlake.lakehouse import WriteResult
from govlake.runtime import Runtime
from jobs.collect.ingest import ingest
from jobs.derive import derive
from jobs.exclusive import building

Progress = Callable[[str], None]


def manual_run_id() -> str:
    """Run id for runs started outside Airflow."""
    return "manual__" + datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def build_dataset(rt: Runtime, ref: str, *, pipeline: str, run_id: str) -> list[WriteResult]:
    """Collect or derive one dataset, as its conf declares, as the one run building it.

    The table's lease is held and the table pinned from before its state is read until the
    last commit, so a second run of the same build is refused, on this host by the lease and
    on any other by the Delta commit.
    """
    build = ingest if rt.config.dataset(ref).collect is not None else derive
    with building(rt, ref, run_id=run_id):
        return build(rt, ref, pipeline=pipeline, run_id=run_id)


def run_pipeline(
    rt: Runtime, name: str, *, run_id: str | None = None, progress: Progress | None = None
) -> list[WriteResult]:
    """Build every dataset of a pipeline in order, without Airflow."""
    pipeline = rt.config.pipeline(name)
    run_id = run_id or manual_run_id()
    results: list[WriteResult] = []
    for ref in pipeline.builds:
        if progress:
            progress(f"{pipeline.name}: building {ref}")
        results += build_dataset(rt, ref, pipeline=pipeline.name, run_id=run_id)
    return results
