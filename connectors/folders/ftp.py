"""FTP and FTPS drop folders (ftplib, passive mode), with resumable downloads (``REST``)."""

from __future__ import annotations

import ftplib
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from connectors.folders.base import (
    DropFolderError,
    Progress,
    RemoteFile,
    archive_path,
    matching,
    part_name,
)
from govlake.connections import Endpoint

TIMEOUT_SECONDS = 30.0
CHUNK = 1 << 20


class FtpFolder:
    """A folder on an FTP server; FTPS (explicit TLS, protected data channel) when ``tls``."""

    def __init__(self, server: Endpoint, folder: str, *, source: str, tls: bool = False) -> None:
        """Bind to ``folder`` on ``server``; ``source`` names the flow in errors (``source x``)."""
        self.server = server
        self.folder = folder.rstrip("/") or "/"
        self.source = source
        self.tls = tls
        self.where = f"{server}{'' if server.path.endswith(self.folder) else self.folder}"
        self._ftp: ftplib.FTP | None = None

    def _fail(self, what: str, exc: BaseException) -> DropFolderError:
        reason = str(exc).strip() or type(exc).__name__
        return DropFolderError(f"{self.source}: {what} {self.where}: {reason}")

    def __enter__(self) -> FtpFolder:
        """Log in and check the folder exists."""
        ftp = (
            ftplib.FTP_TLS(timeout=TIMEOUT_SECONDS)
            if self.tls
            else ftplib.FTP(timeout=TIMEOUT_SECONDS)
        )
        try:
            ftp.connect(self.server.host, self.server.port or 21)
        except OSError as exc:
            raise self._fail("cannot connect to", exc) from None
        try:
            ftp.login(self.server.login or "anonymous", self.server.password or "")
            if isinstance(ftp, ftplib.FTP_TLS):
                ftp.prot_p()
            ftp.set_pasv(True)
        except ftplib.all_errors as exc:
            ftp.close()
            raise self._fail("login refused by", exc) from None
        try:
            ftp.cwd(self.folder)
        except ftplib.error_perm as exc:
            ftp.close()
            raise self._fail("folder not found:", exc) from None
        self._ftp = ftp
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Say goodbye, or just close when the connection is already broken."""
        if self._ftp is None:
            return
        try:
            self._ftp.quit()
        except (ftplib.Error, OSError, EOFError, AttributeError):
            self._ftp.close()
        self._ftp = None

    @property
    def ftp(self) -> ftplib.FTP:
        """The logged-in session."""
        if self._ftp is None:
            raise RuntimeError("use FtpFolder as a context manager")
        return self._ftp

    def list(self, pattern: str) -> list[RemoteFile]:
        """Files matching ``pattern``, from ``MLSD`` (size and modification time per file)."""
        try:
            entries = [
                (name, int(facts.get("size", 0)), _mlsd_time(facts.get("modify", "")))
                for name, facts in self.ftp.mlsd(self.folder, facts=["type", "size", "modify"])
                if facts.get("type") == "file"
            ]
        except ftplib.all_errors as exc:
            raise self._fail("cannot list", exc) from None
        return matching(entries, self.folder, pattern)

    def fetch(self, file: RemoteFile, target: Path, progress: Progress | None = None) -> None:
        """Download with ``RETR``, restarting at the size of a partial ``target``."""
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
                self.ftp.retrbinary(f"RETR {file.path}", write, rest=done or None)
            except ftplib.all_errors as exc:
                raise self._fail(f"download of {file.name} ({done} bytes done) from", exc) from None

    def move(self, file: RemoteFile, folder: str) -> None:
        """Rename the file into ``folder`` (relative to the drop folder when not absolute)."""
        archive = archive_path(self.folder, folder)
        try:
            try:
                self.ftp.mkd(archive)
            except ftplib.error_perm:
                pass  # it exists
            self.ftp.rename(file.path, f"{archive}/{file.name}")
        except ftplib.all_errors as exc:
            raise self._fail(f"cannot archive {file.name} on", exc) from None

    def upload(self, local: Path, name: str) -> None:
        """``STOR`` under the temporary name, then ``RNFR``/``RNTO`` over ``name``."""
        part = f"{self.folder.rstrip('/')}/{part_name(name)}"
        final = f"{self.folder.rstrip('/')}/{name}"
        try:
            with local.open("rb") as data:
                self.ftp.storbinary(f"STOR {part}", data, blocksize=CHUNK)
            if self.size_of(name) is not None:
                self.ftp.delete(final)  # not every server renames over an existing file
            self.ftp.rename(part, final)
        except ftplib.all_errors as exc:
            raise self._fail(f"upload of {name} to", exc) from None

    def size_of(self, name: str) -> int | None:
        """``SIZE`` of ``name`` (binary mode), ``None`` when absent."""
        try:
            self.ftp.voidcmd("TYPE I")
            size = self.ftp.size(f"{self.folder.rstrip('/')}/{name}")
        except ftplib.error_perm:
            return None
        except ftplib.all_errors as exc:
            raise self._fail(f"cannot stat {name} on", exc) from None
        return int(size) if size is not None else None


def _mlsd_time(value: str) -> int:
    """``YYYYMMDDHHMMSS[.sss]`` (UTC) as epoch seconds."""
    if not value:
        return 0
    stamp = datetime.strptime(value[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    return int(stamp.timestamp())
