"""Collect an HTTP JSON API stream into bronze: all pages, then one commit for the run.

The pages are spooled to a local JSON Lines file first, so a failure on page 40 commits
nothing; the spool is then read like a JSON Lines drop (records that are not objects go to the
quarantine table) and written with the run's batch id, so a retried task commits once.
"""

from __future__ import annotations

import logging
from pathlib import Path

from connectors.files import FileReader
from connectors.http_api import ApiReader
from govlake.config.models import ApiSource, Dataset, FileStream, declared
from govlake.connections import endpoint
from govlake.lakehouse import Commit, Lakehouse, WriteResult
from jobs.collect.files import commit_read

log = logging.getLogger(__name__)


def collect_api(
    lake: Lakehouse,
    dataset: Dataset,
    source: ApiSource,
    stream_name: str,
    *,
    staging: Path,
    pipeline: str,
    run_id: str,
) -> list[WriteResult]:
    """Fetch every page of the stream and commit the records to the bronze dataset."""
    ref = dataset.ref
    stream = declared(source.stream(stream_name), source.name, stream_name)
    commit = Commit(
        pipeline=pipeline,
        run_id=run_id,
        batch_id=f"{ref}@{run_id}",
        source=f"{source.name}.{stream.name}",
    )
    if lake.is_committed(ref, commit.batch_id):
        return [WriteResult(ref, 0, lake.version(ref), "already_committed")]
    staging.mkdir(parents=True, exist_ok=True)
    spool = staging / f"{stream.name}.jsonl"
    reader = ApiReader(endpoint(source.conn_id, source.default_url), source, stream)
    try:
        count = reader.spool(spool)
    finally:
        reader.close()
    log.info("source %s: %d record(s) from %s", source.name, count, stream.path)
    records = FileReader(
        spool,
        FileStream(name=stream.name, pattern="*", format="jsonl", encoding="utf-8"),
        name=stream.path,
    )
    where = f"source {source.name} {stream.path}"
    results = commit_read(lake, dataset, records, commit, policy=source.schema_drift, where=where)
    spool.unlink()
    return results
