"""Validate a table as it stands now, outside any write (``govlake quality run``)."""

from __future__ import annotations

from govlake.config.project import suite_file
from govlake.errors import GovlakeError
from govlake.lakehouse import LINEAGE_COLUMNS
from govlake.runtime import Runtime
from jobs.quality import results
from jobs.quality.gate import run_suite
from jobs.quality.suites import Validation


def validate_table(rt: Runtime, ref: str, *, run_id: str) -> Validation:
    """Run the dataset's suite on its current version and record the results."""
    dataset = rt.config.dataset(ref)
    expected = suite_file(rt.config.expectations_dir, ref)
    if not expected.exists():
        raise GovlakeError(f"{ref} has no suite: expected {expected}")
    lake = rt.lake
    version = lake.table(ref).version()
    table = lake.read(ref, version)
    table = table.drop_columns([c for c in LINEAGE_COLUMNS if c in table.column_names])
    name = f"{run_id}.{ref}.v{version}"
    validation = run_suite(rt, dataset, table, input_rows=None, run_name=name)
    assert validation is not None
    results.record(
        lake,
        ref,
        version,
        validation,
        policy=dataset.quality.policy,
        action="checked",
        pipeline="quality",
        run_id=run_id,
    )
    return validation
