"""The drop-folder contract: where departments leave and receive files.

A :class:`DropFolder` lists the files matching a glob, downloads one to a local path (resuming a
partial download left by an earlier attempt), moves a file to an archive folder, and uploads a
file atomically: under a temporary ``.<name>.part`` name first, renamed when complete, so a
receiver never sees a partial file under the final name. :mod:`~connectors.folders.local`,
:mod:`~connectors.folders.ftp` and :mod:`~connectors.folders.sftp` implement it;
:func:`connectors.folders.open_folder` picks one.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

from govlake.errors import GovlakeError

Progress = Callable[[int], None]
"""Called with the bytes received so far."""

CHUNK = 1 << 20


@dataclass(frozen=True, order=True)
class RemoteFile:
    """A file in a drop folder, identified by path, size and modification time."""

    mtime: int
    path: str
    size: int

    @property
    def name(self) -> str:
        """The file's name without its folder."""
        return self.path.rsplit("/", 1)[-1]


class DropFolder(Protocol):
    """A folder of incoming files; a context manager that holds the connection."""

    where: str

    def __enter__(self) -> DropFolder:
        """Connect and check the folder exists."""
        ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the connection."""
        ...

    def list(self, pattern: str) -> list[RemoteFile]:
        """Files whose names match ``pattern``, oldest first."""
        ...

    def fetch(self, file: RemoteFile, target: Path, progress: Progress | None = None) -> None:
        """Download ``file`` to ``target``, resuming from a partial ``target`` left earlier."""
        ...

    def move(self, file: RemoteFile, folder: str) -> None:
        """Move ``file`` into ``folder`` (created if missing)."""
        ...

    def upload(self, local: Path, name: str) -> None:
        """Send ``local`` as ``name``: to a temporary name, then renamed over ``name``."""
        ...

    def size_of(self, name: str) -> int | None:
        """The size of file ``name`` in the folder, ``None`` when there is none."""
        ...


class DropFolderError(GovlakeError):
    """A drop folder cannot be reached or read; the message names the source and the cause."""


def matching(names: list[tuple[str, int, int]], folder: str, pattern: str) -> list[RemoteFile]:
    """The ``(name, size, mtime)`` entries matching ``pattern``, as files oldest first."""
    base = folder.rstrip("/")
    return sorted(
        RemoteFile(mtime=mtime, path=f"{base}/{name}", size=size)
        for name, size, mtime in names
        if fnmatch.fnmatchcase(name, pattern)
    )


def part_name(name: str) -> str:
    """The temporary name a file is uploaded under (hidden, never matched by ``*.csv``)."""
    return f".{name}.part"


def archive_path(folder: str, archive: str) -> str:
    """The archive folder: ``archive`` when absolute, else below the drop ``folder``."""
    return archive if archive.startswith("/") else f"{folder.rstrip('/')}/{archive}"
