"""Leases: one run at a time works on a table (or any named object); the others are refused.

A lease is an exclusive, non-blocking ``flock`` on ``<home>/leases/<kind>/<name>.lock``, taken
before a run reads the object's state and held until its last commit. The operating system
releases it when the holding process ends, however it ends, so a killed run never leaves the
object locked and the next run may start at once. A second run asking for a held lease fails
at once with one line naming the object and the holder; it has read and written nothing. The
lease files stay in place: removing one while it is held would let another run lock a new file
of the same name.

A lease guards the runs of one host (or of hosts sharing the home folder on a file system with
working ``flock``). Across hosts the Delta commit itself refuses a second build of a table (see
:meth:`govlake.lakehouse.Lakehouse.pinned`).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from govlake.errors import GovlakeError


class LeaseHeldError(GovlakeError):
    """Another run holds the lease of the object: this run did nothing to it."""


@contextmanager
def lease(home: Path, kind: str, name: str, *, holder: str) -> Iterator[None]:
    """Hold the lease of ``kind`` ``name`` (e.g. ``table``, ``bronze.src``) for the block.

    Args:
        home: The platform's home folder (``GOVLAKE_HOME``); leases live in ``leases/`` there.
        kind: What the object is, as messages name it (``table``, ``subscription``).
        name: The object's name; its lease file is ``<name>.lock``.
        holder: Who holds it (a run id), shown to a run that is refused.

    Raises:
        LeaseHeldError: Another process holds the lease.
    """
    folder = home / "leases" / kind
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.lock"
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LeaseHeldError(
                f"{kind} {name}: another run holds it{_held_by(path)}; this run did nothing "
                "to it, run it again once that one has ended"
            ) from None
        os.ftruncate(descriptor, 0)
        os.write(descriptor, _holder_record(holder).encode())
        yield
    finally:
        os.close(descriptor)  # closing the descriptor releases the lock


def _holder_record(holder: str) -> str:
    since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    record = {"holder": holder, "pid": os.getpid(), "host": socket.gethostname(), "since": since}
    return json.dumps(record)


def _held_by(path: Path) -> str:
    """`` (run R, pid P on H since T)``, or nothing if the holder has not written it yet."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return (
            f" (run {record['holder']}, pid {record['pid']} on {record['host']} "
            f"since {record['since']})"
        )
    except (OSError, ValueError, KeyError, TypeError):
        return ""
