"""Send quarantined rows through their step again, after the rule or the data was fixed.

Rows rejected by the transform (``_stage = transform``) go through the transform again; rows
rejected by the suite (``_stage = suite``) go through the suite again. What passes is merged into
the table; what still fails replaces the quarantine. Both commits carry a batch id made from the
quarantine version that was read, so a crash between them followed by a re-run is exact.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pyarrow as pa
import pyarrow.compute as pc

from govlake.errors import GovlakeError
from govlake.lakehouse import LINEAGE_COLUMNS, QUARANTINE_SUFFIX, Commit, Lakehouse
from govlake.runtime import Runtime
from jobs.derive import commit_build, validated, with_stage
from jobs.exclusive import building
from jobs.transform import Derived, load_transform


@dataclass(frozen=True)
class Reprocessed:
    """How many quarantined rows came back and how many are still quarantined."""

    ref: str
    read: int
    published: int
    still_quarantined: int


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns: missing ones null, extra ones dropped."""
    columns = [
        table.column(f.name).cast(f.type)
        if f.name in table.column_names
        else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _schema(lake: Lakehouse, ref: str) -> pa.Schema:
    schema = pa.schema(lake.table(ref).schema().to_arrow())
    return pa.schema([f for f in schema if f.name not in LINEAGE_COLUMNS])


def reprocess(rt: Runtime, ref: str, *, run_id: str) -> Reprocessed:
    """Re-run the quarantined rows of ``ref`` through the step that rejected them.

    As the one run building ``ref``: a build or re-process of it running meanwhile refuses it.
    """
    with building(rt, ref, run_id=run_id):
        return _reprocess(rt, ref, run_id=run_id)


def _reprocess(rt: Runtime, ref: str, *, run_id: str) -> Reprocessed:
    dataset = rt.config.dataset(ref)
    if dataset.transform is None or dataset.write not in {"merge", "append"}:
        raise GovlakeError(f"{ref}: only incremental derived datasets can re-process rows")
    lake = rt.lake
    quarantine = ref + QUARANTINE_SUFFIX
    if not lake.exists(quarantine) or not lake.exists(ref):
        raise GovlakeError(f"{ref}: nothing quarantined yet")
    version = lake.table(quarantine).version()
    held = lake.read(quarantine, version)
    stage = (
        pc.fill_null(held.column("_stage"), "transform")
        if "_stage" in held.column_names
        else pa.array(["transform"] * held.num_rows)
    )
    transformed = Derived(rows=_schema(lake, ref).empty_table())
    again = held.filter(pc.equal(stage, "transform"))
    if again.num_rows:
        if len(dataset.inputs) != 1:
            raise GovlakeError(
                f"{ref}: rows rejected by a transform of several inputs "
                "cannot be re-processed alone"
            )
        upstream = dataset.inputs[0]
        raw = conform(again, _schema(lake, upstream))
        transformed = load_transform(dataset.transform)({upstream: raw})
    suite_rows = conform(held.filter(pc.equal(stage, "suite")), _schema(lake, ref))
    candidates = pa.concat_tables([conform(transformed.rows, _schema(lake, ref)), suite_rows])
    decision = validated(rt, dataset, candidates, input_rows=0, pipeline="reprocess", run_id=run_id)
    commit = Commit(
        pipeline="reprocess",
        run_id=run_id,
        source=quarantine,
        batch_id=f"{ref}@reprocess:{quarantine}:{version}",
        inputs=lake.last_inputs(ref),
    )
    rows = commit_build(
        rt, dataset, replace(decision, rejects=None), None, commit, commit_empty=False
    )[0]
    still = [
        with_stage(t, stage)
        for t, stage in ((transformed.rejects, "transform"), (decision.rejects, "suite"))
        if t is not None and t.num_rows
    ]
    kept = (
        conform(pa.concat_tables(still, promote_options="permissive"), held.schema)
        if still
        else held.schema.empty_table()
    )
    kept = kept.drop_columns([c for c in LINEAGE_COLUMNS if c in kept.column_names])
    lake.write(
        quarantine,
        kept,
        replace(commit, batch_id=f"{quarantine}@reprocess:{version}"),
        mode="overwrite",
    )
    return Reprocessed(ref, held.num_rows, rows.rows, kept.num_rows)
