"""Drop folders: where departments leave and receive files, on disk, FTP(S) or SFTP.

A :class:`DropFolder` lists the files matching a glob, downloads one to a local path (resuming a
partial download left by an earlier attempt), moves a file to an archive folder, and uploads a
file atomically: under a temporary ``.<name>.part`` name first, renamed when complete, so a
receiver never sees a partial file under the final name. The protocol
modules (:mod:`connectors.ftp`, :mod:`connectors.sftp`) implement it; :func:`open_drop_folder`
picks one from a source's conf.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

from connectors.connections import endpoint
from govlake.config.models import FileSource
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


class LocalFolder:
    """A folder on a local or mounted file system."""

    def __init__(self, folder: str, *, source: str) -> None:
        """Bind to ``folder``; ``source`` names the flow in errors (``source x``)."""
        self.folder = Path(folder)
        self.where = str(self.folder)
        self.source = source

    def __enter__(self) -> LocalFolder:
        """Check that the folder exists."""
        if not self.folder.is_dir():
            raise DropFolderError(f"{self.source}: folder not found: {self.folder}")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Nothing to release."""

    def list(self, pattern: str) -> list[RemoteFile]:
        """Files in the folder whose names match ``pattern``."""
        entries = [
            (p.name, (st := p.stat()).st_size, int(st.st_mtime))
            for p in self.folder.iterdir()
            if p.is_file()
        ]
        return matching(entries, str(self.folder), pattern)

    def fetch(self, file: RemoteFile, target: Path, progress: Progress | None = None) -> None:
        """Copy the file to ``target``, continuing a partial copy."""
        done = target.stat().st_size if target.exists() else 0
        with open(file.path, "rb") as src, target.open("ab") as dst:
            src.seek(done)
            while chunk := src.read(CHUNK):
                dst.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done)

    def move(self, file: RemoteFile, folder: str) -> None:
        """Move the file into ``folder`` (relative folders are taken below the drop folder)."""
        archive = self.folder / folder
        archive.mkdir(parents=True, exist_ok=True)
        shutil.move(file.path, archive / file.name)

    def upload(self, local: Path, name: str) -> None:
        """Copy under the temporary name, flush to disk, then rename."""
        part = self.folder / part_name(name)
        with local.open("rb") as src, part.open("wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
            dst.flush()
            os.fsync(dst.fileno())
        part.replace(self.folder / name)

    def size_of(self, name: str) -> int | None:
        """Size of ``name``, if present."""
        path = self.folder / name
        return path.stat().st_size if path.is_file() else None


def open_drop_folder(source: FileSource) -> DropFolder:
    """The drop folder a files source declares, not yet connected."""
    if source.transport == "local":
        return LocalFolder(source.folder, source=f"source {source.name}")
    assert source.conn_id is not None  # checked by the conf model
    server = endpoint(source.conn_id, source.default_url)
    if source.transport == "sftp":
        from connectors.sftp import SftpFolder

        return SftpFolder(server, source.folder, source=f"source {source.name}")
    from connectors.ftp import FtpFolder

    return FtpFolder(
        server, source.folder, source=f"source {source.name}", tls=source.transport == "ftps"
    )
