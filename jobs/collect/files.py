"""Collect the new files of a drop folder into bronze, each file exactly once.

A file is loaded in one Delta commit whose metadata carries its path, size, mtime and SHA-256:
the table's history is the processed-file register, so a file is never marked without its rows
nor its rows committed without the mark. The batch id is the content's SHA-256, so the same
content dropped again under another name (or re-uploaded) loads nothing twice. Malformed rows are
committed first to ``<table>__quarantine`` under the same batch id, then the good rows. A file
that fails (download, decoding, schema) leaves no rows and no mark; the partial download is kept
so the next attempt resumes it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from connectors.files import FileReader
from connectors.folders import DropFolder, RemoteFile, open_folder
from govlake.config.models import Dataset, DriftPolicy, FileSource, FileStream, declared
from govlake.connections import endpoint
from govlake.digest import file_sha256
from govlake.errors import GovlakeError
from govlake.lakehouse import QUARANTINE_SUFFIX, CollectedFile, Commit, Lakehouse, WriteResult
from jobs.collect.drift import check_drift
from jobs.quality.contracts import checked

log = logging.getLogger(__name__)
PROGRESS_EVERY = 64 << 20


def collect_files(
    lake: Lakehouse,
    dataset: Dataset,
    source: FileSource,
    stream_name: str,
    *,
    staging: Path,
    pipeline: str,
    run_id: str,
) -> list[WriteResult]:
    """Load every file of the stream not yet in the register; archive loaded files if asked."""
    ref = dataset.ref
    stream = declared(source.stream(stream_name), source.name, stream_name)
    register = {(f.path, f.size, f.mtime) for f in lake.collected_files(ref)}
    staging.mkdir(parents=True, exist_ok=True)
    results: list[WriteResult] = []
    with source_folder(source) as folder:
        files = folder.list(stream.pattern)
        new = [f for f in files if (f.path, f.size, f.mtime) not in register]
        log.info(
            "%s: %d file(s) match %r, %d new", folder.where, len(files), stream.pattern, len(new)
        )
        for file in files:
            if file in new:
                results += _collect_file(
                    lake,
                    dataset,
                    source,
                    stream,
                    folder,
                    file,
                    staging,
                    pipeline=pipeline,
                    run_id=run_id,
                )
            if stream.archive_folder:
                folder.move(file, stream.archive_folder)
    return results or [WriteResult(ref, 0, lake.version(ref), "no_rows")]


def source_folder(source: FileSource) -> DropFolder:
    """The drop folder a files source declares, not yet connected."""
    server = (
        None if source.transport == "local" else endpoint(str(source.conn_id), source.default_url)
    )
    return open_folder(
        source.transport, source.folder, server=server, label=f"source {source.name}"
    )


def _collect_file(
    lake: Lakehouse,
    dataset: Dataset,
    source: FileSource,
    stream: FileStream,
    folder: DropFolder,
    file: RemoteFile,
    staging: Path,
    *,
    pipeline: str,
    run_id: str,
) -> list[WriteResult]:
    ref = dataset.ref
    local = staging / f"{file.name}.{file.size}.{file.mtime}.part"
    folder.fetch(file, local, _progress(file))
    if local.stat().st_size != file.size:
        local.unlink()
        raise GovlakeError(
            f"source {source.name}: {file.path} changed size during download; retry later"
        )
    digest = file_sha256(local)
    entry = CollectedFile(file.path, file.size, file.mtime, digest)
    commit = Commit(
        pipeline=pipeline,
        run_id=run_id,
        batch_id=f"{ref}@sha256:{digest}",
        source=f"{source.name}.{stream.name}",
        file=entry,
    )
    if lake.is_committed(ref, commit.batch_id):
        log.info("%s: same content as a file already loaded; registering only", file.path)
        first = next(f for f in lake.collected_files(ref) if f.sha256 == digest)
        seen = Commit(
            pipeline=pipeline,
            run_id=run_id,
            batch_id=f"{ref}@seen:{file.path}:{file.size}:{file.mtime}",
            source=commit.source,
            file=replace(entry, duplicate_of=first.path),
        )
        local.unlink()
        return [lake.mark(ref, seen)]
    reader = FileReader(local, stream, name=file.name)
    where = f"source {source.name} file {file.path}"
    results = commit_read(lake, dataset, reader, commit, policy=source.schema_drift, where=where)
    local.unlink()
    return results


def commit_read(
    lake: Lakehouse,
    dataset: Dataset,
    reader: FileReader,
    commit: Commit,
    *,
    policy: DriftPolicy,
    where: str,
) -> list[WriteResult]:
    """Commit a read file: its malformed rows to the quarantine first, then its good rows.

    Both writes carry the same batch id, so a re-run after a crash between them commits each
    exactly once. A file with no good rows still commits (empty), to register it.
    """
    ref = dataset.ref
    quarantine = lake.write(
        ref + QUARANTINE_SUFFIX, reader.malformed_batches(), commit, mode="append"
    )
    if quarantine.rows:
        log.warning("%s: %d malformed row(s) quarantined in %s", where, quarantine.rows,
                    quarantine.ref)  # fmt: skip
    rows = reader.rows()
    evolve = check_drift(lake.schema(ref), rows.schema, policy=policy, where=where)
    data = checked(rows, dataset.contract, where=where) if dataset.contract else rows
    result = lake.write(
        ref,
        data,
        commit,
        mode=dataset.write,
        keys=dataset.keys,
        partition_by=dataset.partition_by,
        evolve_schema=evolve,
        commit_empty=True,
    )
    log.info("%s: %d row(s) committed to %s v%s", where, result.rows, ref, result.version)
    return [quarantine, result] if quarantine.rows else [result]


def _progress(file: RemoteFile) -> Any:
    reported = 0

    def report(done: int) -> None:
        nonlocal reported
        if done - reported >= PROGRESS_EVERY:
            reported = done
            log.info("%s: %d of %d MB downloaded", file.name, done >> 20, file.size >> 20)

    return report
