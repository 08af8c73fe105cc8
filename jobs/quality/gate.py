"""The quality gate between a transform and its commit (write-audit-publish without branches).

The suite runs on exactly the rows the commit will write. Under ``fail`` a failed expectation
stops the build before anything is committed or any input is marked consumed, so fixing the
cause and re-running processes the same input again. Results are recorded either way.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from govlake.config import ProjectConfig
from govlake.config.models import Dataset
from govlake.errors import GovlakeError
from govlake.lakehouse import Lakehouse
from jobs.quality import parameters, results
from jobs.quality.suites import Validation, load_suite, parameter_names, suite_file, validate


class QualityGateError(GovlakeError):
    """A validation suite failed and the dataset's policy does not let the rows through."""


@dataclass(frozen=True)
class Decision:
    """What may be committed after validation."""

    rows: pa.Table
    rejects: pa.Table | None
    validation: Validation | None

    def record(
        self,
        lake: Lakehouse,
        dataset: Dataset,
        version: int | None,
        *,
        action: str,
        pipeline: str,
        run_id: str,
    ) -> None:
        """Persist the validation (if a suite ran) against the committed version."""
        if self.validation is not None:
            results.record(
                lake,
                dataset.ref,
                version,
                self.validation,
                policy=dataset.quality.policy,
                action=action,
                pipeline=pipeline,
                run_id=run_id,
            )


def run_suite(
    config: ProjectConfig, dataset: Dataset, rows: pa.Table, input_rows: int | None
) -> Validation | None:
    """Validate ``rows`` with the dataset's suite; ``None`` when it has no suite."""
    path = suite_file(config.expectations_dir, dataset.ref)
    if not path.exists():
        return None
    lake = Lakehouse(config.lakehouse)
    suite = load_suite(path)
    values = parameters.resolve(
        parameter_names(suite), dataset=dataset, input_rows=input_rows, lake=lake
    )
    return validate(rows, path, suite, values, config.home / "quality")


def decide(
    config: ProjectConfig,
    dataset: Dataset,
    rows: pa.Table,
    *,
    input_rows: int | None,
    pipeline: str,
    run_id: str,
) -> Decision:
    """Run the suite and apply the dataset's policy; raise if the rows may not be committed."""
    validation = run_suite(config, dataset, rows, input_rows)
    if validation is None or validation.success or dataset.quality.policy == "warn":
        return Decision(rows, None, validation)
    policy = dataset.quality.policy
    blocking = [
        o
        for o in validation.outcomes
        if not o.success
        and o.blocking
        # rows can only be quarantined when the suite says which ones failed
        and (policy == "fail" or not o.row_level or not o.unexpected_rows)
    ]
    if blocking:
        decision = Decision(rows, None, validation)
        decision.record(
            Lakehouse(config.lakehouse),
            dataset,
            None,
            action="blocked",
            pipeline=pipeline,
            run_id=run_id,
        )
        failed = "; ".join(
            f"{o.label} ({o.unexpected_count} unexpected, observed {o.observed})" for o in blocking
        )
        raise QualityGateError(
            f"{dataset.ref}: suite {validation.suite} failed, nothing was "
            f"committed: {failed}. Data Docs: {validation.docs}"
        )
    return _quarantine(rows, validation)


def _quarantine(rows: pa.Table, validation: Validation) -> Decision:
    reasons: dict[int, list[str]] = {}
    for outcome in validation.outcomes:
        if outcome.success or not outcome.row_level:
            continue
        values = rows.column(outcome.column).to_pylist() if outcome.column else None
        for row in outcome.unexpected_rows:
            shown = values[row] if values is not None else ""
            reasons.setdefault(row, []).append(f"{outcome.label}: {shown}")
    bad = sorted(reasons)
    mask = pc.is_in(pa.array(range(rows.num_rows), pa.int64()), pa.array(bad, pa.int64()))
    rejects = rows.filter(mask).append_column(
        "_reason", pa.array(["; ".join(reasons[i]) for i in bad], pa.string())
    )
    return Decision(rows.filter(pc.invert(mask)), rejects, validation)
