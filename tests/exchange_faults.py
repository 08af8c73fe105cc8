"""Run a ``govlake`` command in this process and kill it (SIGKILL) at one step of a delivery.

``python -m tests.exchange_faults STEP ARGS...`` runs ``govlake ARGS...``; the process kills
itself, as a crash would, when the delivery reaches STEP:

- ``mid-upload``: half of the data file has reached its temporary name on the server;
- ``before-rename``: the data file is sent whole, not yet renamed to its final name;
- ``before-manifest``: the data file is in place, its manifest not sent;
- ``after-manifest``: file and manifest are in place, the ledger not yet told;
- ``after-push``: a table push has committed, the ledger not yet told.

Only this process is patched, at the connector's verbs that every delivery passes: the test
that starts it runs the real code around a real crash.
"""

from __future__ import annotations

import io
import os
import signal
import sys
from pathlib import Path
from typing import Any, BinaryIO

STEPS = ("mid-upload", "before-rename", "before-manifest", "after-manifest", "after-push")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def arm(step: str) -> None:
    """Patch the delivery's verbs so that the process dies at ``step``."""
    import jobs.exchange.tables
    from connectors.folders.base import FolderBase

    if step not in STEPS:
        raise SystemExit(f"unknown step {step!r}; one of {', '.join(STEPS)}")
    sent = [0]
    upload, replace, push = FolderBase.upload, FolderBase._replace, jobs.exchange.tables.push

    def upload_until(self: FolderBase, local: Path, name: str) -> Any:
        if step == "before-manifest" and sent[0] == 1:
            _die()
        if step == "mid-upload":
            kind = type(self)
            write = kind._write

            def half(folder: FolderBase, data: BinaryIO, path: str) -> None:
                write(folder, io.BytesIO(data.read(local.stat().st_size // 2)), path)
                _die()

            kind._write = half  # type: ignore[method-assign]
        done = upload(self, local, name)
        sent[0] += 1
        if step == "after-manifest" and sent[0] == 2:
            _die()
        return done

    def replace_until(self: FolderBase, source: str, target: str) -> None:
        if step == "before-rename":
            _die()
        replace(self, source, target)

    def push_then_die(*args: Any, **kwargs: Any) -> int:
        push(*args, **kwargs)
        _die()
        raise AssertionError("unreachable")

    FolderBase.upload = upload_until  # type: ignore[method-assign]
    FolderBase._replace = replace_until  # type: ignore[method-assign]
    jobs.exchange.tables.push = push_then_die


if __name__ == "__main__":
    arm(sys.argv[1])
    from apps.cli.main import app

    app(sys.argv[2:], prog_name="govlake")
