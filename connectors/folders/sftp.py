"""SFTP drop folders (paramiko): key or password login, host keys checked.

Uploads are atomic (written as ``.<name>.<token>.part``, then ``posix-rename`` over the final
name) and downloads resume from the end of a partial local file.

The Connection's extra fields follow Airflow's SFTP provider: ``key_file`` or ``private_key``
for key login, ``host_key`` (``ssh-ed25519 AAAA...``) or ``known_hosts`` (a file) to pin the
server's key. Without them the user's ``~/.ssh/known_hosts`` is used, and an unknown server is
refused; ``no_host_key_check: true`` turns the check off (for throwaway test servers only).
"""

from __future__ import annotations

import base64
import io
import shutil
import stat
from collections.abc import Iterable

import paramiko

from connectors.folders.base import CHUNK, FolderBase, Readable, RemoteFile, Sink
from govlake.connections import Endpoint

TIMEOUT_SECONDS = 30.0


class SftpFolder(FolderBase):
    """A folder on an SFTP server."""

    errors = (OSError, EOFError, paramiko.SSHException)

    def __init__(self, server: Endpoint, folder: str, *, source: str) -> None:
        """Bind to ``folder`` on ``server``; ``source`` names the flow in errors (``source x``)."""
        folder = folder.rstrip("/") or "/"
        port = server.port or 22
        where = f"{server.scheme}://{server.login or ''}@{server.host}:{port}{folder}"
        super().__init__(folder, source=source, where=where)
        self.server = server
        self.port = port
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None

    @property
    def sftp(self) -> paramiko.SFTPClient:
        """The open SFTP session."""
        if self._sftp is None:
            raise RuntimeError("use SftpFolder as a context manager")
        return self._sftp

    def _connect(self) -> None:
        client = paramiko.SSHClient()
        self._trust_host_keys(client)
        try:
            client.connect(
                self.server.host,
                port=self.port,
                username=self.server.login,
                password=self.server.password,
                pkey=self._private_key(),
                key_filename=self.server.extra.get("key_file"),
                look_for_keys=False,
                allow_agent=False,
                timeout=TIMEOUT_SECONDS,
                banner_timeout=TIMEOUT_SECONDS,
                auth_timeout=TIMEOUT_SECONDS,
            )
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise self._fail("host key changed for", exc) from None
        except paramiko.SSHException as exc:
            client.close()
            if "not found in known_hosts" in str(exc):
                raise self._fail(
                    "unknown host key for",
                    "add the server to known_hosts or pin it with the connection's extra.host_key",
                ) from None
            raise self._fail("login refused by", exc) from None
        except OSError as exc:
            client.close()
            raise self._fail("cannot connect to", exc) from None
        self._client = client
        self._sftp = client.open_sftp()

    def _trust_host_keys(self, client: paramiko.SSHClient) -> None:
        extra = self.server.extra
        if str(extra.get("no_host_key_check", "false")).lower() == "true":
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
            return
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        if extra.get("known_hosts"):
            client.load_host_keys(str(extra["known_hosts"]))
        elif extra.get("host_key"):
            kind, _, blob = str(extra["host_key"]).strip().partition(" ")
            key = paramiko.PKey.from_type_string(kind, base64.b64decode(blob.split()[0]))
            name = self.server.host if self.port == 22 else f"[{self.server.host}]:{self.port}"
            client.get_host_keys().add(name, key.get_name(), key)
        else:
            client.load_system_host_keys()

    def _private_key(self) -> paramiko.PKey | None:
        text = self.server.extra.get("private_key")
        if not text:
            return None
        return paramiko.PKey.from_private_key(io.StringIO(str(text)))

    def _close(self) -> None:
        if self._sftp is not None:
            try:
                self._sftp.close()
            except self.errors:
                pass  # the server is gone; the error that matters is already raised
        if self._client is not None:
            self._client.close()
        self._sftp = self._client = None

    def _is_folder(self, path: str) -> bool:
        try:
            return stat.S_ISDIR(self.sftp.stat(path).st_mode or 0)
        except FileNotFoundError:
            return False

    def _entries(self) -> Iterable[tuple[str, int, int]]:
        return [
            (a.filename, a.st_size or 0, int(a.st_mtime or 0))
            for a in self.sftp.listdir_attr(self.folder)
            if stat.S_ISREG(a.st_mode or 0)
        ]

    def _read(self, file: RemoteFile, offset: int, sink: Sink) -> None:
        with self.sftp.open(file.path, "rb") as remote:
            remote.seek(offset)
            remote.prefetch(file.size)
            while chunk := remote.read(CHUNK):
                sink(chunk)

    def _write(self, data: Readable, path: str) -> None:
        with self.sftp.open(path, "wb") as remote:
            remote.set_pipelined(True)
            shutil.copyfileobj(data, remote, CHUNK)

    def _make_folder(self, path: str) -> None:
        try:
            self.sftp.stat(path)
        except FileNotFoundError:
            self.sftp.mkdir(path)

    def _rename(self, source: str, target: str) -> None:
        self.sftp.posix_rename(source, target)

    def _delete(self, path: str) -> None:
        self.sftp.remove(path)

    def _size(self, path: str) -> int | None:
        try:
            return self.sftp.stat(path).st_size
        except FileNotFoundError:
            return None
