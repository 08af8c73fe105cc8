"""The quality gate between a transform and its commit (write-audit-publish without branches).

The suite runs on exactly the rows the commit will write; :func:`decide` applies the dataset's
policy to its outcome and writes nothing. Under ``fail`` a failed expectation blocks the build
before anything is committed or any input is marked consumed, so fixing the cause and re-running
processes the same input again. The caller records the results, blocked or not
(:func:`jobs.quality.results.record`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from govlake.config.models import Dataset
from govlake.config.project import suite_file
from govlake.errors import GovlakeError
from govlake.runtime import Runtime
from jobs.quality import parameters
from jobs.quality.suites import (
    Outcome,
    Validation,
    load_suite,
    parameter_names,
    validate,
)


class QualityGateError(GovlakeError):
    """A validation suite failed and the dataset's policy does not let the rows through."""


@dataclass(frozen=True)
class Decision:
    """What may be committed after validation; ``blocking`` lists what stops the commit."""

    rows: pa.Table
    rejects: pa.Table | None
    validation: Validation | None
    blocking: tuple[Outcome, ...] = ()

    def refusal(self, dataset: Dataset) -> QualityGateError:
        """The error that names every blocking expectation and where the Data Docs are."""
        assert self.validation is not None
        failed = "; ".join(
            f"{o.label} ({o.unexpected_count} unexpected, observed {o.observed})"
            for o in self.blocking
        )
        return QualityGateError(
            f"{dataset.ref}: suite {self.validation.suite} failed, nothing was "
            f"committed: {failed}. Data Docs: {self.validation.docs}"
        )


def run_suite(
    rt: Runtime, dataset: Dataset, rows: pa.Table, input_rows: int | None, *, run_name: str
) -> Validation | None:
    """Validate ``rows`` with the dataset's suite; ``None`` when it has no suite.

    ``run_name`` names the validation in Data Docs: the pipeline run and the table version.
    """
    path = suite_file(rt.config.expectations_dir, dataset.ref)
    if not path.exists():
        return None
    suite = load_suite(path)
    values = parameters.resolve(
        parameter_names(suite), dataset=dataset, input_rows=input_rows, lake=rt.lake
    )
    return validate(rows, path, suite, values, rt.config.home / "quality", run_name=run_name)


def decide(dataset: Dataset, rows: pa.Table, validation: Validation | None) -> Decision:
    """Apply the dataset's policy to a validation of ``rows``: what passes, what is held back."""
    if validation is None or validation.success or dataset.quality.policy == "warn":
        return Decision(rows, None, validation)
    policy = dataset.quality.policy
    blocking = tuple(
        o
        for o in validation.outcomes
        if not o.success
        and o.blocking
        # rows can only be quarantined when the suite says which ones failed
        and (policy == "fail" or not o.row_level or not o.unexpected_rows)
    )
    if blocking:
        return Decision(rows, None, validation, blocking)
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
