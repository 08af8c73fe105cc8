"""What every DAG task runs: build the runtime once, do one unit of work, return an XCom summary.

The DAG factory wires these functions into tasks with plain values (the conf folder, a dataset
or subscription name, the run id); each builds one :class:`~govlake.runtime.Runtime` and passes
it down. Nothing here imports Airflow, and each task imports only the work it runs.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from govlake.runtime import Runtime


def build(conf_dir: str, ref: str, *, pipeline: str, run_id: str) -> list[dict[str, Any]]:
    """Collect or derive ``ref``: one row per table written."""
    from jobs.runner import build_dataset

    results = build_dataset(Runtime.load(conf_dir), ref, pipeline=pipeline, run_id=run_id)
    return [
        {"table": r.ref, "rows": r.rows, "version": r.version, "status": r.status} for r in results
    ]


def register_in_catalog(conf_dir: str, refs: list[str]) -> dict[str, Any]:
    """Generate and register the catalog entries of the tables ``refs``."""
    from catalog.build import build_catalog

    report = build_catalog(Runtime.load(conf_dir), refs)
    return {
        "entries": [
            {"code": r.code, "dataset": r.dataset, "version": r.version, "outcome": r.outcome}
            for r in report.registrations
        ],
        "not_built": report.not_built,
        "warnings": report.warnings,
    }


def deliver_subscription(conf_dir: str, subscription: str) -> dict[str, Any]:
    """Deliver the subscription's next batch; a refusal is logged and in the ledger."""
    from jobs.exchange.deliver import deliver

    done = deliver(Runtime.load(conf_dir), subscription, progress=print)
    if done.status == "refused":
        print(f"{subscription}: nothing sent; the ledger records the refusal")
    return asdict(done)


def maintain_table(conf_dir: str, ref: str) -> list[dict[str, Any]]:
    """Compact and vacuum ``ref`` and its quarantine."""
    from govlake.errors import GovlakeError
    from jobs.maintenance import maintain

    done = maintain(Runtime.load(conf_dir), [ref])
    problems = [r.problem for r in done if r.problem]
    if problems:
        raise GovlakeError("; ".join(problems))
    return [asdict(r) for r in done]
