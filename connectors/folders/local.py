"""A drop folder on a local or mounted file system.

Uploads are atomic (written and flushed to disk as ``.<name>.<token>.part``, then renamed over
the final name) and downloads resume from the end of a partial copy.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from connectors.folders.base import CHUNK, FolderBase, Readable, RemoteFile, Sink


class LocalFolder(FolderBase):
    """A folder on a local or mounted file system."""

    def __init__(self, folder: str, *, source: str) -> None:
        """Bind to ``folder``; ``source`` names the flow in errors (``source x``)."""
        path = str(Path(folder))
        super().__init__(path, source=source, where=path)

    def _connect(self) -> None:
        """Nothing to open."""

    def _close(self) -> None:
        """Nothing to release."""

    def _is_folder(self, path: str) -> bool:
        return Path(path).is_dir()

    def _entries(self) -> Iterable[tuple[str, int, int]]:
        for path in Path(self.folder).iterdir():
            if path.is_file():
                st = path.stat()
                yield path.name, st.st_size, int(st.st_mtime)

    def _read(self, file: RemoteFile, offset: int, sink: Sink) -> None:
        with open(file.path, "rb") as src:
            src.seek(offset)
            while chunk := src.read(CHUNK):
                sink(chunk)

    def _write(self, data: Readable, path: str) -> None:
        with open(path, "wb") as out:
            shutil.copyfileobj(data, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())

    def _make_folder(self, path: str) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)

    def _rename(self, source: str, target: str) -> None:
        shutil.move(source, target)  # an archive folder may be on another file system

    def _delete(self, path: str) -> None:
        Path(path).unlink()

    def _size(self, path: str) -> int | None:
        file = Path(path)
        return file.stat().st_size if file.is_file() else None
