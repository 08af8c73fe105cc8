"""A drop folder on a local or mounted file system."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import TracebackType

from connectors.folders.base import (
    CHUNK,
    DropFolderError,
    Progress,
    RemoteFile,
    matching,
    part_name,
)


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
