"""Build datasets and pipelines by name: the one entry point for DAG tasks and the CLI."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from govlake.config import ProjectConfig, load_config
from govlake.lakehouse import WriteResult
from jobs.derive import derive
from jobs.ingest import ingest

Progress = Callable[[str], None]


def manual_run_id() -> str:
    """Run id for runs started outside Airflow."""
    return "manual__" + datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def build_dataset(
    config: ProjectConfig, ref: str, *, pipeline: str, run_id: str
) -> list[WriteResult]:
    """Collect or derive one dataset, as its conf declares."""
    if config.dataset(ref).collect is not None:
        return ingest(config, ref, pipeline=pipeline, run_id=run_id)
    return derive(config, ref, pipeline=pipeline, run_id=run_id)


def build_task(conf_dir: str, ref: str, *, pipeline: str, run_id: str) -> list[dict[str, object]]:
    """What a DAG task runs: load conf, build ``ref``, return a summary fit for XCom."""
    results = build_dataset(load_config(Path(conf_dir)), ref, pipeline=pipeline, run_id=run_id)
    return [
        {"table": r.ref, "rows": r.rows, "version": r.version, "status": r.status} for r in results
    ]


def run_pipeline(
    config: ProjectConfig, name: str, *, run_id: str | None = None, progress: Progress | None = None
) -> list[WriteResult]:
    """Build every dataset of a pipeline in order, without Airflow."""
    pipeline = config.pipeline(name)
    run_id = run_id or manual_run_id()
    results: list[WriteResult] = []
    for ref in pipeline.builds:
        if progress:
            progress(f"{pipeline.name}: building {ref}")
        results += build_dataset(config, ref, pipeline=pipeline.name, run_id=run_id)
    return results
