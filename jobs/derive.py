"""Derivation: build a silver or gold table from its inputs with a transform function.

Incremental datasets (write ``append`` or ``merge``) read only the rows inserted or updated in
their inputs since the input versions recorded in their last commit (the Delta change data feed,
so compactions bring nothing back); ``overwrite`` datasets read their inputs whole.
The batch id is made from those input version ranges, so processing the same input twice never
commits twice, whatever the run. Rows a transform rejects go to ``<table>__quarantine`` with a
``_reason``, before the good rows, so a crash between the two commits loses nothing; the next
build then takes the same input range again, so it quarantines nothing twice.
"""

from __future__ import annotations

from dataclasses import replace

import pyarrow as pa

from govlake.config.models import Dataset
from govlake.errors import GovlakeError, UnknownDatasetError
from govlake.lakehouse import LINEAGE_COLUMNS, QUARANTINE_SUFFIX, Commit, WriteResult
from govlake.runtime import Runtime
from jobs.quality import results
from jobs.quality.contracts import check
from jobs.quality.gate import Decision, decide, run_suite
from jobs.transform import Derived, load_transform


def derive(rt: Runtime, ref: str, *, pipeline: str, run_id: str) -> list[WriteResult]:
    """Build ``ref`` from its inputs; returns the write of the rows and, if any, the quarantine."""
    config, lake = rt.config, rt.lake
    dataset = config.dataset(ref)
    if dataset.transform is None:
        raise GovlakeError(f"{ref} is not a derived dataset")
    results.recover(lake, ref, pipeline=pipeline)
    incremental = dataset.write in {"append", "merge"}
    consumed = lake.last_inputs(ref) if incremental else {}
    upto = interrupted_inputs(rt, ref) if incremental else {}
    inputs: dict[str, pa.Table] = {}
    versions: dict[str, int] = {}
    ranges = []
    for upstream in dataset.inputs:
        if not lake.exists(upstream):
            builder = config.graph.builder(upstream)
            raise UnknownDatasetError(
                f"{ref}: input {upstream} does not exist yet (built by pipeline {builder})"
            )
        table, versions[upstream] = lake.changes_since(
            upstream, consumed.get(upstream), upto.get(upstream)
        )
        contract = config.datasets[upstream].contract if upstream in config.datasets else None
        if contract:
            check(table, contract, where=f"{ref}: input {upstream}")
        inputs[upstream] = table.drop_columns(
            [c for c in LINEAGE_COLUMNS if c in table.schema.names]
        )
        ranges.append(f"{upstream}:{consumed.get(upstream, -1)}->{versions[upstream]}")
    if incremental and not any(t.num_rows for t in inputs.values()):
        return [WriteResult(ref, 0, lake.version(ref), "no_rows")]

    output = _transform(rt, dataset, inputs)
    decision = validated(
        rt,
        dataset,
        output.rows,
        pipeline=pipeline,
        run_id=run_id,
        input_rows=sum(t.num_rows for t in inputs.values()) if incremental else None,
    )
    commit = Commit(
        pipeline=pipeline,
        run_id=run_id,
        batch_id=f"{ref}@{','.join(ranges)}",
        source=",".join(dataset.inputs),
        inputs=versions,
    )
    return commit_build(rt, dataset, decision, output.rejects, commit, commit_empty=incremental)


def interrupted_inputs(rt: Runtime, ref: str) -> dict[str, int]:
    """The input versions of a build whose rejects were committed and its rows not.

    A build commits its quarantine first; a crash before its rows leaves that commit alone.
    The next build takes exactly the same input range again, so it repeats the same batch
    (whose quarantine is then already committed) instead of quarantining those rejects twice
    under a wider one. Empty when the last build ended.
    """
    lake = rt.lake
    quarantine = ref + QUARANTINE_SUFFIX
    batch = lake.last_metadata(quarantine, "batch_id")
    if batch is None or not (batch.startswith(f"{ref}@") and batch.endswith(QUARANTINE_SUFFIX)):
        return {}
    if lake.is_committed(ref, batch.removesuffix(QUARANTINE_SUFFIX)):
        return {}
    return lake.last_inputs(quarantine)


def validated(
    rt: Runtime,
    dataset: Dataset,
    rows: pa.Table,
    *,
    input_rows: int | None,
    pipeline: str,
    run_id: str,
) -> Decision:
    """Run the dataset's suite on ``rows`` and apply its policy.

    A blocked build is recorded (action ``blocked``) and raises
    :class:`~jobs.quality.gate.QualityGateError`.
    """
    current = rt.lake.version(dataset.ref)
    name = f"{run_id}.{dataset.ref}.v{0 if current is None else current + 1}"
    decision = decide(dataset, rows, run_suite(rt, dataset, rows, input_rows, run_name=name))
    if decision.blocking:
        _record(rt, dataset, decision, None, "blocked", pipeline=pipeline, run_id=run_id)
        raise decision.refusal(dataset)
    return decision


def _record(
    rt: Runtime,
    dataset: Dataset,
    decision: Decision,
    version: int | None,
    action: str,
    *,
    pipeline: str,
    run_id: str,
) -> None:
    if decision.validation is not None:
        results.record(
            rt.lake,
            dataset.ref,
            version,
            decision.validation,
            policy=dataset.quality.policy,
            action=action,
            pipeline=pipeline,
            run_id=run_id,
        )


def _transform(rt: Runtime, dataset: Dataset, inputs: dict[str, pa.Table]) -> Derived:
    assert dataset.transform is not None
    config = rt.config
    if dataset.engine == "arrow":
        return load_transform(dataset.transform)(inputs)
    from jobs.spark.session import spark_session
    from jobs.spark.transform import run_on_spark

    spark = spark_session(config.engine.spark)
    return run_on_spark(
        spark,
        dataset.transform,
        inputs,
        keys=dataset.keys,
        latest_by=dataset.latest_by,
        partitions=config.engine.spark.shuffle_partitions,
    )


def commit_build(
    rt: Runtime,
    dataset: Dataset,
    decision: Decision,
    transform_rejects: pa.Table | None,
    commit: Commit,
    *,
    commit_empty: bool,
) -> list[WriteResult]:
    """Write the rejects to quarantine, then the rows, then record the validation.

    Rejects carry ``_stage``: ``transform`` (rows in the input's shape, rejected by the
    transform) or ``suite`` (rows in the output's shape, rejected by the validation suite), so
    they can be re-processed from the right step.
    """
    lake = rt.lake
    written = []
    rejects = [
        with_stage(t, stage)
        for t, stage in ((transform_rejects, "transform"), (decision.rejects, "suite"))
        if t is not None and t.num_rows
    ]
    if rejects:
        quarantine = replace(commit, batch_id=commit.batch_id + QUARANTINE_SUFFIX)
        together = pa.concat_tables(rejects, promote_options="permissive")
        # Rejects of different steps have different columns: every column may be null.
        together = together.cast(pa.schema([f.with_nullable(True) for f in together.schema]))
        written.append(
            lake.write(
                dataset.ref + QUARANTINE_SUFFIX,
                together,
                quarantine,
                mode="append",
                evolve_schema=True,
            )
        )
    quarantined = decision.rejects is not None and decision.rejects.num_rows > 0
    action = "quarantined" if quarantined else "published"
    if decision.validation is not None:
        commit = replace(commit, quality=results.summary(
            decision.validation, policy=dataset.quality.policy, action=action,
            run_id=commit.run_id))  # fmt: skip
    rows = lake.write(
        dataset.ref,
        decision.rows,
        commit,
        mode=dataset.write,
        keys=dataset.keys,
        partition_by=dataset.partition_by,
        predicate=_partition_predicate(dataset, decision.rows),
        update_condition=f's."{dataset.latest_by}" >= t."{dataset.latest_by}"'
        if dataset.latest_by
        else None,
        commit_empty=commit_empty,
    )
    if commit.quality is not None and rows.status != "already_committed":
        assert rows.version is not None
        results.record_summary(lake, dataset.ref, rows.version, commit.quality,
                               pipeline=commit.pipeline,
                               batch_id=results.build_batch(dataset.ref, rows.version))  # fmt: skip
    return [rows, *written]


def with_stage(rejects: pa.Table, stage: str) -> pa.Table:
    """``rejects`` tagged with the step that rejected them (``_stage``)."""
    column = pa.array([stage] * rejects.num_rows, pa.string())
    if "_stage" in rejects.column_names:
        return rejects.set_column(rejects.column_names.index("_stage"), "_stage", column)
    return rejects.append_column("_stage", column)


def _partition_predicate(dataset: Dataset, rows: pa.Table) -> str | None:
    """``col = 'v' AND ...`` OR-ed over the partitions present in ``rows``."""
    if dataset.write != "overwrite_partition":
        return None
    if rows.num_rows == 0:
        raise GovlakeError(f"{dataset.ref}: overwrite_partition with no rows replaces nothing")
    parts = rows.select(dataset.partition_by).group_by(dataset.partition_by).aggregate([])
    clauses = []
    for row in parts.to_pylist():
        terms = [
            f'"{k}" IS NULL' if v is None else f"\"{k}\" = '{str(v).replace(chr(39), chr(39) * 2)}'"
            for k, v in row.items()
        ]
        clauses.append("(" + " AND ".join(terms) + ")")
    return " OR ".join(clauses)
