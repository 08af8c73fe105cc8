"""Collect the new files of a drop folder into bronze, each file exactly once.

A file is loaded in one Delta commit whose metadata carries its path, size, mtime and SHA-256:
the table's history is the processed-file register, so a file is never marked without its rows
nor its rows committed without the mark. The batch id is the content's SHA-256, so the same
content dropped again under another name (or re-uploaded) loads nothing twice: such a file is
only registered, with an empty commit naming the file first loaded. Malformed rows are
committed first to ``<table>__quarantine`` under the same batch id, then the good rows. A file
that fails (download, decoding, schema) leaves no rows and no mark; the partial download is kept
so the next attempt resumes it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from connectors.files import FileReader
from connectors.folders import DropFolder, RemoteFile, open_folder
from govlake.config.models import FileSource, FileStream
from govlake.connections import endpoint
from govlake.digest import file_sha256
from govlake.errors import GovlakeError
from govlake.lakehouse import CollectedFile, WriteResult
from jobs.collect.bronze import commit_rows, no_rows, register_file
from jobs.collect.run import CollectRun

log = logging.getLogger(__name__)
PROGRESS_EVERY = 64 << 20

FilesRun = CollectRun[FileSource, FileStream]


def collect_files(run: FilesRun) -> list[WriteResult]:
    """Load every file of the stream not yet in the register; archive loaded files if asked."""
    stream = run.stream
    register = {(f.path, f.size, f.mtime) for f in run.lake.collected_files(run.ref)}
    run.staging.mkdir(parents=True, exist_ok=True)
    results: list[WriteResult] = []
    with source_folder(run.source) as folder:
        files = folder.list(stream.pattern)
        new = [f for f in files if (f.path, f.size, f.mtime) not in register]
        log.info(
            "%s: %d file(s) match %r, %d new", folder.where, len(files), stream.pattern, len(new)
        )
        for file in files:
            if file in new:
                results += _collect_file(run, folder, file)
            else:  # a run killed right after the file's commit left its download behind
                _staged(run, file).unlink(missing_ok=True)
            if stream.archive_folder:
                folder.move(file, stream.archive_folder)
    return results or no_rows(run)


def source_folder(source: FileSource) -> DropFolder:
    """The drop folder a files source declares, not yet connected."""
    server = (
        None if source.transport == "local" else endpoint(str(source.conn_id), source.default_url)
    )
    return open_folder(
        source.transport, source.folder, server=server, label=f"source {source.name}"
    )


def _staged(run: FilesRun, file: RemoteFile) -> Path:
    """Where ``file`` is downloaded to (and resumed from) before it is loaded."""
    return run.staging / f"{file.name}.{file.size}.{file.mtime}.part"


def _collect_file(run: FilesRun, folder: DropFolder, file: RemoteFile) -> list[WriteResult]:
    local = _staged(run, file)
    folder.fetch(file, local, _progress(file))
    if local.stat().st_size != file.size:
        local.unlink()
        raise GovlakeError(
            f"source {run.source.name}: {file.path} changed size during download; retry later"
        )
    entry = CollectedFile(file.path, file.size, file.mtime, file_sha256(local))
    batch_id = f"{run.ref}@sha256:{entry.sha256}"
    if run.lake.is_committed(run.ref, batch_id):
        log.info("%s: same content as a file already loaded; registering only", file.path)
        local.unlink()
        first = next(f for f in run.lake.collected_files(run.ref) if f.sha256 == entry.sha256)
        seen = f"{run.ref}@seen:{file.path}:{file.size}:{file.mtime}"
        return register_file(run, replace(entry, duplicate_of=first.path), batch_id=seen)
    reader = FileReader(local, run.stream, name=file.name)
    results = commit_rows(
        run.at(f"file {file.path}"),
        reader.rows,
        batch_id=batch_id,
        file=entry,
        malformed=reader.malformed_batches(),
        commit_empty=True,
    )
    local.unlink()
    return results


def _progress(file: RemoteFile) -> Callable[[int], None]:
    reported = 0

    def report(done: int) -> None:
        nonlocal reported
        if done - reported >= PROGRESS_EVERY:
            reported = done
            log.info("%s: %d of %d MB downloaded", file.name, done >> 20, file.size >> 20)

    return report
