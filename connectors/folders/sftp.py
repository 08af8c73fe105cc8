"""SFTP drop folders (paramiko): key or password login, host keys checked, resumable downloads.

The Connection's extra fields follow Airflow's SFTP provider: ``key_file`` or ``private_key``
for key login, ``host_key`` (``ssh-ed25519 AAAA...``) or ``known_hosts`` (a file) to pin the
server's key. Without them the user's ``~/.ssh/known_hosts`` is used, and an unknown server is
refused; ``no_host_key_check: true`` turns the check off (for throwaway test servers only).
"""

from __future__ import annotations

import base64
import io
import stat
from pathlib import Path
from types import TracebackType

import paramiko

from connectors.folders.base import (
    CHUNK,
    DropFolderError,
    Progress,
    RemoteFile,
    archive_path,
    matching,
    part_name,
)
from govlake.connections import Endpoint

TIMEOUT_SECONDS = 30.0


class SftpFolder:
    """A folder on an SFTP server."""

    def __init__(self, server: Endpoint, folder: str, *, source: str) -> None:
        """Bind to ``folder`` on ``server``; ``source`` names the flow in errors (``source x``)."""
        self.server = server
        self.folder = folder.rstrip("/") or "/"
        self.source = source
        self.where = (
            f"{server.scheme}://{server.login or ''}@{server.host}:{self.port}{self.folder}"
        )
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None

    @property
    def port(self) -> int:
        """The server's port, 22 unless set."""
        return self.server.port or 22

    def _fail(self, what: str, exc: BaseException | str) -> DropFolderError:
        reason = str(exc).strip() or type(exc).__name__
        return DropFolderError(f"{self.source}: {what} {self.where}: {reason}")

    def __enter__(self) -> SftpFolder:
        """Connect, verify the host key, log in and check the folder exists."""
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
            message = str(exc)
            if "not found in known_hosts" in message:
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
        try:
            if not stat.S_ISDIR(self._sftp.stat(self.folder).st_mode or 0):
                raise self._fail("not a folder:", self.folder)
        except OSError:
            self.__exit__(None, None, None)
            raise self._fail("folder not found:", self.folder) from None
        return self

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

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the SFTP session and the SSH connection (a dropped one closes quietly)."""
        if self._sftp is not None:
            try:
                self._sftp.close()
            except (OSError, EOFError, paramiko.SSHException):
                pass  # the server is gone; the error that matters is already raised
        if self._client is not None:
            self._client.close()
        self._sftp = self._client = None

    @property
    def sftp(self) -> paramiko.SFTPClient:
        """The open SFTP session."""
        if self._sftp is None:
            raise RuntimeError("use SftpFolder as a context manager")
        return self._sftp

    def list(self, pattern: str) -> list[RemoteFile]:
        """Regular files matching ``pattern``."""
        try:
            entries = [
                (a.filename, a.st_size or 0, int(a.st_mtime or 0))
                for a in self.sftp.listdir_attr(self.folder)
                if stat.S_ISREG(a.st_mode or 0)
            ]
        except (OSError, paramiko.SSHException) as exc:
            raise self._fail("cannot list", exc) from None
        return matching(entries, self.folder, pattern)

    def fetch(self, file: RemoteFile, target: Path, progress: Progress | None = None) -> None:
        """Download the file, continuing from the end of a partial ``target``."""
        done = target.stat().st_size if target.exists() else 0
        if done >= file.size:
            return
        try:
            with self.sftp.open(file.path, "rb") as remote, target.open("ab") as out:
                remote.seek(done)
                remote.prefetch(file.size)
                while chunk := remote.read(CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise self._fail(f"download of {file.name} ({done} bytes done) from", exc) from None

    def move(self, file: RemoteFile, folder: str) -> None:
        """Rename the file into ``folder`` (relative to the drop folder when not absolute)."""
        archive = archive_path(self.folder, folder)
        try:
            try:
                self.sftp.stat(archive)
            except FileNotFoundError:
                self.sftp.mkdir(archive)
            self.sftp.posix_rename(file.path, f"{archive}/{file.name}")
        except (OSError, paramiko.SSHException) as exc:
            raise self._fail(f"cannot archive {file.name} on", exc) from None

    def upload(self, local: Path, name: str) -> None:
        """Write under the temporary name, then ``posix-rename`` over ``name`` (atomic)."""
        part = f"{self.folder.rstrip('/')}/{part_name(name)}"
        try:
            with local.open("rb") as data, self.sftp.open(part, "wb") as remote:
                remote.set_pipelined(True)
                while chunk := data.read(CHUNK):
                    remote.write(chunk)
            self.sftp.posix_rename(part, f"{self.folder.rstrip('/')}/{name}")
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise self._fail(f"upload of {name} to", exc) from None

    def size_of(self, name: str) -> int | None:
        """Size of ``name``, ``None`` when absent."""
        try:
            return self.sftp.stat(f"{self.folder.rstrip('/')}/{name}").st_size
        except FileNotFoundError:
            return None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise self._fail(f"cannot stat {name} on", exc) from None
