"""The one way collected rows reach bronze: checked, with lineage, in one commit per batch.

Every collector hands its rows here. Malformed rows go first to ``<table>__quarantine``, under
the batch id of the rows; the rows' schema is then checked against the table's by the source's
drift policy, the dataset's pandera contract checks every batch as it streams, and the rows are
written with the dataset's write mode, keys and partitioning in one Delta commit. That commit
carries pipeline, run, batch id and source, and the source cursor or file register entry, so
neither can advance without its rows. A batch id is committed at most once per table: a re-run
after a crash between the two commits repeats neither.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from govlake.lakehouse import QUARANTINE_SUFFIX, CollectedFile, Commit, WriteResult
from jobs.collect.drift import check_drift
from jobs.collect.run import CollectRun
from jobs.quality.contracts import checked

log = logging.getLogger(__name__)

Rows = Callable[[], pa.RecordBatchReader]
"""Opens the rows; called once, after the malformed rows are quarantined (a file read in two
passes learns its columns on the first)."""

Run = CollectRun[Any, Any]


def already_committed(run: Run, batch_id: str) -> list[WriteResult] | None:
    """The result of a batch committed before, so a collector can skip its work; else ``None``."""
    if not run.lake.is_committed(run.ref, batch_id):
        return None
    return [WriteResult(run.ref, 0, run.lake.version(run.ref), "already_committed")]


def no_rows(run: Run) -> list[WriteResult]:
    """The result of a run that found nothing new at the source."""
    return [WriteResult(run.ref, 0, run.lake.version(run.ref), "no_rows")]


def commit_rows(
    run: Run,
    rows: Rows,
    *,
    batch_id: str,
    cursor: dict[str, str] | None = None,
    file: CollectedFile | None = None,
    malformed: pa.RecordBatchReader | None = None,
    commit_empty: bool = False,
) -> list[WriteResult]:
    """Quarantine ``malformed``, then check and commit ``rows`` to the run's bronze table.

    Args:
        run: The collection run.
        rows: Opens the rows to commit.
        batch_id: The batch's id; committed once per table, whatever the retries.
        cursor: The source cursor reached, committed with the rows.
        file: The file register entry, committed with the rows.
        malformed: Rows that cannot be loaded (quarantine schema: file, line, reason, raw).
        commit_empty: Commit even without rows (a file with none still enters the register).

    Returns:
        The quarantine write when it had rows, then the rows' write.

    Raises:
        SchemaDriftError: The rows' columns changed in a way the source's policy refuses.
        ContractError: A row breaks the dataset's contract; nothing of the rows is committed.
    """
    commit = _commit(run, batch_id, cursor=cursor, file=file)
    results = []
    if malformed is not None:
        quarantine = run.lake.write(run.ref + QUARANTINE_SUFFIX, malformed, commit, mode="append")
        if quarantine.rows:
            log.warning("%s: %d malformed row(s) quarantined in %s", run.where, quarantine.rows,
                        quarantine.ref)  # fmt: skip
            results.append(quarantine)
    results.append(_write(run, rows(), commit, commit_empty=commit_empty))
    return results


def register_file(run: Run, file: CollectedFile, *, batch_id: str) -> list[WriteResult]:
    """Enter ``file`` in the register with no rows (its content is already loaded)."""
    return [run.lake.mark(run.ref, _commit(run, batch_id, file=file))]


def _write(
    run: Run, rows: pa.RecordBatchReader, commit: Commit, *, commit_empty: bool
) -> WriteResult:
    lake, dataset = run.lake, run.dataset
    policy = run.source.schema_drift
    evolve = check_drift(lake.schema(run.ref), rows.schema, policy=policy, where=run.where)
    data = checked(rows, dataset.contract, where=run.where) if dataset.contract else rows
    result = lake.write(
        run.ref,
        data,
        commit,
        mode=dataset.write,
        keys=dataset.keys,
        partition_by=dataset.partition_by,
        evolve_schema=evolve,
        commit_empty=commit_empty,
    )
    log.info("%s: %d row(s) committed to %s v%s", run.where, result.rows, run.ref, result.version)
    return result


def _commit(
    run: Run,
    batch_id: str,
    *,
    cursor: dict[str, str] | None = None,
    file: CollectedFile | None = None,
) -> Commit:
    return Commit(
        pipeline=run.pipeline,
        run_id=run.run_id,
        batch_id=batch_id,
        source=run.origin,
        cursor=cursor,
        file=file,
    )
