"""Throwaway servers on free loopback ports: an FTP server (pyftpdlib) and a static web server.

The demo uses them to play the departments' FTP drop folder and website with no external
server; the tests use them as real peers (and kill them mid-transfer). Each runs in its own
process, so stopping one cuts its connections like a real outage.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from govlake.errors import GovlakeError

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Return once ``port`` accepts connections; fail if ``process`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise GovlakeError(f"server on port {port} exited with code {process.returncode}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise GovlakeError(f"no server answered on {LOOPBACK}:{port} within {timeout:.0f} s")


@dataclass
class LocalServer:
    """A server process on a loopback port; a context manager that stops it on exit."""

    command: list[str]
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> Self:
        """Start the process and wait until the port answers."""
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                self.command, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        wait_for_port(self.port, self.process)
        return self

    def stop(self) -> None:
        """Kill the process (connections in flight are cut) and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def __enter__(self) -> Self:
        """Start the server."""
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()


@dataclass
class FtpServer(LocalServer):
    """pyftpdlib serving ``root`` to one user with a random password."""

    user: str = "govlake"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12), repr=False)
    root: Path = Path()

    @classmethod
    def serving(
        cls, root: Path, log: Path, port: int | None = None, password: str | None = None
    ) -> FtpServer:
        """An FTP server (not yet started) for ``root``, writable by its user."""
        port = port or free_port()
        server = cls(command=[], port=port, log=log, root=root)
        if password is not None:
            server.password = password
        server.command = [
            sys.executable, "-m", "pyftpdlib", "-i", LOOPBACK, "-p", str(port), "-w",
            "-d", str(root), f"--username={server.user}",
            # One argument: a random password may start with "-", which argparse would take
            # for an option.
            f"--password={server.password}",
        ]  # fmt: skip
        return server

    @property
    def url(self) -> str:
        """The Airflow Connection URI that reaches this server (password included)."""
        return f"ftp://{self.user}:{self.password}@{LOOPBACK}:{self.port}"


@dataclass
class WebServer(LocalServer):
    """Python's static file server on ``root``."""

    @classmethod
    def serving(cls, root: Path, log: Path, port: int | None = None) -> WebServer:
        """A web server (not yet started) for the files under ``root``."""
        port = port or free_port()
        command = [
            sys.executable, "-m", "http.server", str(port), "--bind", LOOPBACK,
            "--directory", str(root),
        ]  # fmt: skip
        return cls(command=command, port=port, log=log)

    @property
    def url(self) -> str:
        """The site's base URL."""
        return f"http://{LOOPBACK}:{self.port}"
