"""The drop-folder contract: where departments leave and receive files.

A :class:`DropFolder` lists the files matching a glob, downloads one to a local path (resuming a
partial download left by an earlier attempt), moves a file to an archive folder, and uploads a
file atomically: under a temporary ``.<name>.<token>.part`` name of its own first, renamed when
complete, so a receiver never sees a partial file under the final name and two uploads of one
name never write the same temporary file. An upload returns the size and SHA-256 of the bytes it
sent, read once as they went out.

:class:`FolderBase` keeps these guarantees once, on top of a few protocol verbs that
:mod:`~connectors.folders.local`, :mod:`~connectors.folders.ftp` and
:mod:`~connectors.folders.sftp` implement; :func:`connectors.folders.open_folder` picks one.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, ClassVar, Protocol, Self

from govlake.errors import GovlakeError

Progress = Callable[[int], None]
"""Called with the bytes received so far."""

Sink = Callable[[bytes], None]
"""Takes the chunks of a download, in order."""

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

    def upload(self, local: Path, name: str) -> Sent:
        """Send ``local`` as ``name``: to a temporary name, then renamed over ``name``."""
        ...

    def size_of(self, name: str) -> int | None:
        """The size of file ``name`` in the folder, ``None`` when there is none."""
        ...

    def discard_parts(self, name: str) -> int:
        """Delete what interrupted uploads of ``name`` left; returns how many files went."""
        ...


@dataclass(frozen=True)
class Sent:
    """What an upload sent: its size and SHA-256, of the bytes as they were read and sent."""

    bytes: int
    sha256: str


class Readable(Protocol):
    """What an upload reads from: a binary file, or one read through a digest."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes (all that is left when negative); empty at the end."""
        ...


class _Digesting:
    """A binary file read through a SHA-256 and a byte count."""

    def __init__(self, data: BinaryIO) -> None:
        self.data = data
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1, /) -> bytes:
        """Read from the file, counting and digesting what was read."""
        chunk = self.data.read(size)
        self.digest.update(chunk)
        self.size += len(chunk)
        return chunk


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
    """A temporary name for one upload of ``name`` (hidden, never matched by ``*.csv``)."""
    return f".{name}.{secrets.token_hex(6)}.part"


def archive_path(folder: str, archive: str) -> str:
    """The archive folder: ``archive`` when absolute, else below the drop ``folder``."""
    return archive if archive.startswith("/") else f"{folder.rstrip('/')}/{archive}"


class FolderBase(ABC):
    """The :class:`DropFolder` skeleton over a transport's verbs; errors name file and folder.

    A transport sets :attr:`errors` and implements the verbs; paths are ``/``-joined strings.

    Attributes:
        folder: The folder's path, without a trailing ``/`` (``/`` for the root).
        source: Who uses the folder, the first word of every error (``source x``).
        where: The folder as errors show it (``sftp://user@host:22/in``), never a password.
        errors: The exceptions the transport raises, wrapped in :class:`DropFolderError`.
    """

    errors: ClassVar[tuple[type[BaseException], ...]] = (OSError,)

    def __init__(self, folder: str, *, source: str, where: str) -> None:
        self.folder = folder.rstrip("/") or "/"
        self.source = source
        self.where = where

    def _fail(self, what: str, exc: BaseException | str) -> DropFolderError:
        reason = str(exc).strip() or type(exc).__name__
        return DropFolderError(f"{self.source}: {what} {self.where}: {reason}")

    def _path(self, name: str) -> str:
        return f"{self.folder.rstrip('/')}/{name}"

    @abstractmethod
    def _connect(self) -> None:
        """Open the session, raising :class:`DropFolderError` when the server refuses it."""

    @abstractmethod
    def _close(self) -> None:
        """Close the session, quietly when the connection is already gone."""

    @abstractmethod
    def _is_folder(self, path: str) -> bool:
        """Whether ``path`` is a folder."""

    @abstractmethod
    def _entries(self) -> Iterable[tuple[str, int, int]]:
        """The regular files in the folder, as ``(name, size, mtime)``."""

    @abstractmethod
    def _read(self, file: RemoteFile, offset: int, sink: Sink) -> None:
        """Pass the bytes of ``file`` from ``offset`` on to ``sink``, chunk by chunk."""

    @abstractmethod
    def _write(self, data: Readable, path: str) -> None:
        """Write ``data`` to the file ``path``, replacing it."""

    @abstractmethod
    def _make_folder(self, path: str) -> None:
        """Create the folder ``path`` unless it exists."""

    @abstractmethod
    def _rename(self, source: str, target: str) -> None:
        """Rename ``source`` to ``target``."""

    def _replace(self, source: str, target: str) -> None:
        """Rename ``source`` over an existing ``target`` (a POSIX rename replaces it)."""
        self._rename(source, target)

    @abstractmethod
    def _size(self, path: str) -> int | None:
        """The size of the file ``path``, ``None`` when there is none."""

    @abstractmethod
    def _delete(self, path: str) -> None:
        """Delete the file ``path``."""

    def __enter__(self) -> Self:
        """Connect and check that the folder exists."""
        self._connect()
        try:
            found = self._is_folder(self.folder)
        except self.errors as exc:
            self._close()
            raise self._fail("cannot open", exc) from None
        if not found:
            self._close()
            raise DropFolderError(f"{self.source}: folder not found: {self.where}")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the connection."""
        self._close()

    def list(self, pattern: str) -> list[RemoteFile]:
        """Regular files whose names match ``pattern``, oldest first."""
        try:
            entries = list(self._entries())
        except self.errors as exc:
            raise self._fail("cannot list", exc) from None
        return matching(entries, self.folder, pattern)

    def fetch(self, file: RemoteFile, target: Path, progress: Progress | None = None) -> None:
        """Download ``file`` to ``target``, resuming from a partial ``target`` left earlier.

        Args:
            file: The file, as listed.
            target: The local file; a shorter one is taken for the file's first bytes.
            progress: Called after each chunk with the bytes of ``target`` so far.

        Raises:
            DropFolderError: The transfer failed; ``target`` keeps the bytes received.
        """
        done = target.stat().st_size if target.exists() else 0
        if done >= file.size:
            return
        with target.open("ab") as out:

            def write(chunk: bytes) -> None:
                nonlocal done
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done)

            try:
                self._read(file, done, write)
            except self.errors as exc:
                raise self._fail(f"download of {file.name} ({done} bytes done) from", exc) from None

    def move(self, file: RemoteFile, folder: str) -> None:
        """Move ``file`` into ``folder`` (created if missing; relative to the drop folder)."""
        archive = archive_path(self.folder, folder)
        try:
            self._make_folder(archive)
            self._rename(file.path, f"{archive}/{file.name}")
        except self.errors as exc:
            raise self._fail(f"cannot archive {file.name} on", exc) from None

    def upload(self, local: Path, name: str) -> Sent:
        """Send ``local`` as ``name``: to a :func:`part_name` of its own, then renamed over it."""
        part = self._path(part_name(name))
        try:
            with local.open("rb") as data:
                sending = _Digesting(data)
                self._write(sending, part)
            self._replace(part, self._path(name))
        except self.errors as exc:
            raise self._fail(f"upload of {name} to", exc) from None
        return Sent(sending.size, sending.digest.hexdigest())

    def size_of(self, name: str) -> int | None:
        """The size of file ``name`` in the folder, ``None`` when there is none."""
        try:
            return self._size(self._path(name))
        except self.errors as exc:
            raise self._fail(f"cannot stat {name} on", exc) from None

    def discard_parts(self, name: str) -> int:
        """Delete the temporary files (:func:`part_name`) interrupted uploads of ``name`` left.

        Only for a caller that knows no upload of ``name`` is running (one holding its lease).
        """
        pattern = f".{glob.escape(name)}.*.part"
        try:
            parts = [n for n, _, _ in self._entries() if fnmatch.fnmatchcase(n, pattern)]
            for part in parts:
                self._delete(self._path(part))
        except self.errors as exc:
            raise self._fail(f"cannot delete the parts of {name} on", exc) from None
        return len(parts)
