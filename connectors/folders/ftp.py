"""FTP and FTPS drop folders (ftplib, passive mode).

Uploads are atomic (``STOR`` as ``.<name>.<token>.part``, then ``RNFR``/``RNTO`` over the final
name) and downloads resume with ``REST`` from the end of a partial local file.
"""

from __future__ import annotations

import ftplib
from collections.abc import Iterable
from datetime import UTC, datetime

from connectors.folders.base import CHUNK, FolderBase, Readable, RemoteFile, Sink
from govlake.connections import Endpoint

TIMEOUT_SECONDS = 30.0


class FtpFolder(FolderBase):
    """A folder on an FTP server; FTPS (explicit TLS, protected data channel) when ``tls``."""

    errors = ftplib.all_errors

    def __init__(self, server: Endpoint, folder: str, *, source: str, tls: bool = False) -> None:
        """Bind to ``folder`` on ``server``; ``source`` names the flow in errors (``source x``)."""
        folder = folder.rstrip("/") or "/"
        where = f"{server}{'' if server.path.endswith(folder) else folder}"
        super().__init__(folder, source=source, where=where)
        self.server = server
        self.tls = tls
        self._ftp: ftplib.FTP | None = None

    @property
    def ftp(self) -> ftplib.FTP:
        """The logged-in session."""
        if self._ftp is None:
            raise RuntimeError("use FtpFolder as a context manager")
        return self._ftp

    def _connect(self) -> None:
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
        self._ftp = ftp

    def _close(self) -> None:
        if self._ftp is None:
            return
        try:
            self._ftp.quit()
        except (ftplib.Error, OSError, EOFError, AttributeError):
            self._ftp.close()
        self._ftp = None

    def _is_folder(self, path: str) -> bool:
        try:
            self.ftp.cwd(path)
        except ftplib.error_perm:
            return False
        return True

    def _entries(self) -> Iterable[tuple[str, int, int]]:
        return [
            (name, int(facts.get("size", 0)), _mlsd_time(facts.get("modify", "")))
            for name, facts in self.ftp.mlsd(self.folder, facts=["type", "size", "modify"])
            if facts.get("type") == "file"
        ]

    def _read(self, file: RemoteFile, offset: int, sink: Sink) -> None:
        self.ftp.retrbinary(f"RETR {file.path}", sink, rest=offset or None)

    def _write(self, data: Readable, path: str) -> None:
        self.ftp.storbinary(f"STOR {path}", data, blocksize=CHUNK)

    def _make_folder(self, path: str) -> None:
        try:
            self.ftp.mkd(path)
        except ftplib.error_perm:
            pass  # it exists

    def _rename(self, source: str, target: str) -> None:
        self.ftp.rename(source, target)

    def _replace(self, source: str, target: str) -> None:
        if self._size(target) is not None:
            self.ftp.delete(target)  # not every server renames over an existing file
        self._rename(source, target)

    def _delete(self, path: str) -> None:
        self.ftp.delete(path)

    def _size(self, path: str) -> int | None:
        try:
            self.ftp.voidcmd("TYPE I")  # SIZE counts bytes in binary mode only
            size = self.ftp.size(path)
        except ftplib.error_perm:
            return None
        return int(size) if size is not None else None


def _mlsd_time(value: str) -> int:
    """``YYYYMMDDHHMMSS[.sss]`` (UTC) as epoch seconds."""
    if not value:
        return 0
    stamp = datetime.strptime(value[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    return int(stamp.timestamp())
