"""Run a ``govlake`` command in this process and kill it (SIGKILL) at one step of a build.

``python -m tests.collect_derive_faults STEP ARGS...`` runs ``govlake ARGS...``; the process
kills itself, as a crash would, when the build reaches STEP:

- ``mid-read:N``: the writer has taken N batches of the source's rows (a database table's or
  a dropped file's) and asks for more;
- ``mid-download``: the first chunk (of several) of a dropped file has reached the local
  staging file;
- ``before-commit:REF`` / ``after-commit:REF``: table REF's data files are written and its
  Delta commit file is about to be put in place, or has just been (before anything the build
  does after that commit: the validation record, the next table, the file's archiving).

The commit steps are caught where delta-rs itself creates the commit file (the ``linkat`` that
puts ``_delta_log/<version>.json`` in place), by a small preloaded library that
:func:`preload` compiles; the other steps patch the source readers of this process only. The
test that starts it runs the real code around a real crash.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa

COMMIT_LOG = "GOVLAKE_FAULT_COMMIT_LOG"
COMMIT_WHEN = "GOVLAKE_FAULT_COMMIT_WHEN"

_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*linkat_fn)(int, const char *, int, const char *, int);

static int is_commit(const char *path) {
    const char *log = getenv("GOVLAKE_FAULT_COMMIT_LOG");
    size_t n = strlen(path);
    return log && strstr(path, log) && n > 5 && strcmp(path + n - 5, ".json") == 0;
}

static int when(const char *step) {
    const char *at = getenv("GOVLAKE_FAULT_COMMIT_WHEN");
    return at && strcmp(at, step) == 0;
}

int linkat(int olddir, const char *old, int newdir, const char *new, int flags) {
    linkat_fn real = (linkat_fn)dlsym(RTLD_NEXT, "linkat");
    int hit = is_commit(new);
    if (hit && when("before")) kill(getpid(), SIGKILL);
    int done = real(olddir, old, newdir, new, flags);
    if (hit && done == 0 && when("after")) kill(getpid(), SIGKILL);
    return done;
}
"""


def preload() -> Path:
    """The compiled library that kills the process at a table's Delta commit (built once)."""
    key = hashlib.sha256(_SHIM.encode()).hexdigest()[:12]
    library = Path(tempfile.gettempdir()) / f"govlake-commit-fault-{key}.so"
    if not library.exists():
        source = library.with_suffix(".c")
        source.write_text(_SHIM, encoding="utf-8")
        partial = library.with_suffix(f".{os.getpid()}.tmp")
        subprocess.run(
            ["cc", "-shared", "-fPIC", "-O1", "-o", str(partial), str(source), "-ldl"], check=True
        )
        partial.replace(library)
    return library


def commit_env(step: str, ref: str, lake_root: str) -> dict[str, str]:
    """The environment that kills a process ``before`` or ``after`` the commit of ``ref``."""
    zone, _, name = ref.partition(".")
    return {
        "LD_PRELOAD": str(preload()),
        COMMIT_LOG: f"{lake_root.rstrip('/')}/{zone}/{name}/_delta_log/",
        COMMIT_WHEN: step,
    }


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _dying_after(reader: pa.RecordBatchReader, batches: int) -> pa.RecordBatchReader:
    def stream() -> Iterator[pa.RecordBatch]:
        yield from islice(reader, batches)
        _die()  # asked for the batch after the N-th (or for the end, after the last)

    return pa.RecordBatchReader.from_batches(reader.schema, stream())


def arm(step: str) -> None:
    """Patch the source readers so that the process dies at ``step`` (commit steps: no-op)."""
    from connectors.database import DatabaseReader
    from connectors.files import FileReader
    from connectors.folders.base import FolderBase, RemoteFile

    kind, _, value = step.partition(":")
    if kind == "mid-read":
        batches = int(value)
        read_batches, rows = DatabaseReader.read_batches, FileReader.rows

        def read_then_die(self: DatabaseReader, *args: Any, **kwargs: Any) -> Any:
            return _dying_after(read_batches(self, *args, **kwargs), batches)

        def rows_then_die(self: FileReader) -> pa.RecordBatchReader:
            return _dying_after(rows(self), batches)

        DatabaseReader.read_batches = read_then_die  # type: ignore[method-assign]
        FileReader.rows = rows_then_die  # type: ignore[method-assign]
    elif kind == "mid-download":
        fetch = FolderBase.fetch

        def fetch_part_then_die(
            self: FolderBase, file: RemoteFile, target: Path, progress: Any = None
        ) -> None:
            def report(done: int) -> None:
                if progress:
                    progress(done)
                if done < file.size:  # a chunk is in the staging file, not the whole file
                    _die()

            fetch(self, file, target, report)

        FolderBase.fetch = fetch_part_then_die  # type: ignore[method-assign]
    elif kind not in {"before-commit", "after-commit"}:
        raise SystemExit(f"unknown step {step!r}")


if __name__ == "__main__":
    arm(sys.argv[1])
    from apps.cli.main import app

    app(sys.argv[2:], prog_name="govlake")
