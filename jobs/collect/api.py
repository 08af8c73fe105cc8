"""Collect an HTTP JSON API stream into bronze: all pages, then one commit for the run.

The pages are spooled to a local JSON Lines file first, so a failure on page 40 commits
nothing; the spool is then read like a JSON Lines drop (records that are not objects go to the
quarantine table) and committed with the run's batch id, so a retried task commits once.
"""

from __future__ import annotations

import logging

from connectors.files import FileReader
from connectors.http_api import ApiReader
from govlake.config.models import ApiSource, ApiStream, FileStream
from govlake.connections import endpoint
from govlake.lakehouse import WriteResult
from jobs.collect.bronze import already_committed, commit_rows
from jobs.collect.run import CollectRun

log = logging.getLogger(__name__)


def collect_api(run: CollectRun[ApiSource, ApiStream]) -> list[WriteResult]:
    """Fetch every page of the stream and commit the records to the bronze dataset."""
    if done := already_committed(run, run.batch_id):
        return done
    source, stream = run.source, run.stream
    run.staging.mkdir(parents=True, exist_ok=True)
    spool = run.staging / f"{stream.name}.jsonl"
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
    results = commit_rows(
        run.at(stream.path),
        records.rows,
        batch_id=run.batch_id,
        malformed=records.malformed_batches(),
        commit_empty=True,
    )
    spool.unlink()
    return results
