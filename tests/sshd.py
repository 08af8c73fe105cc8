"""A real OpenSSH ``sshd`` on a loopback port, serving SFTP to one test user.

The daemon runs in the foreground with its own config, host key and authorized keys in a
temp folder; the user ``govlake_sftp`` is created on first use with a fresh random password.
Needs root and Debian's ``openssh-server`` (``make test`` installs it where it is missing).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from apps.local_servers import LOOPBACK, LocalServer, free_port

SSHD = Path("/usr/sbin/sshd")
USER = "govlake_sftp"

CONFIG = """\
Port {port}
ListenAddress {host}
HostKey {home}/host_key
PidFile {home}/sshd.pid
AuthorizedKeysFile {home}/authorized_keys
UsePAM no
StrictModes no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin no
AllowUsers {user}
Subsystem sftp internal-sftp
ForceCommand internal-sftp
LogLevel ERROR
"""


def missing_reason() -> str | None:
    """Why an sshd cannot be run here, or ``None`` when it can."""
    if not SSHD.exists():
        return "OpenSSH server not installed (apt-get install openssh-server)"
    if os.geteuid() != 0:
        return "sshd for tests needs root"
    return None


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


def _ensure_user(home: Path, password: str) -> None:
    if subprocess.run(["id", USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "-M", "-s", "/bin/sh", USER], check=True)
    subprocess.run(["usermod", "-d", str(home), USER], check=True)
    subprocess.run(["chpasswd"], input=f"{USER}:{password}".encode(), check=True)


@dataclass
class SshServer(LocalServer):
    """sshd serving SFTP; ``drop`` is a folder the test user can read and write."""

    home: Path = Path()
    drop: Path = Path()
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12), repr=False)

    @classmethod
    def create(cls, home: Path) -> SshServer:
        """Keys, config, user and drop folder under ``home``; call :meth:`start` to run."""
        home.mkdir(parents=True, exist_ok=True)
        _keygen(home / "host_key")
        _keygen(home / "user_key")
        shutil.copy(home / "user_key.pub", home / "authorized_keys")
        drop = home / "drop"
        drop.mkdir()
        port = free_port()
        (home / "sshd_config").write_text(
            CONFIG.format(port=port, host=LOOPBACK, home=home, user=USER)
        )
        server = cls(
            command=[str(SSHD), "-D", "-e", "-f", str(home / "sshd_config")],
            port=port,
            log=home / "sshd.log",
            home=home,
            drop=drop,
        )
        _ensure_user(home, server.password)
        for path in (home, drop):
            shutil.chown(path, USER)
        Path("/run/sshd").mkdir(exist_ok=True)
        return server

    @property
    def host_key(self) -> str:
        """The server's public host key, ``ssh-ed25519 AAAA...``."""
        return " ".join((self.home / "host_key.pub").read_text().split()[:2])

    def connection(self, *, key: bool = True, pin_host_key: bool = True) -> str:
        """An Airflow Connection (JSON) for this server, by key or by password."""
        import json

        extra: dict[str, str] = {}
        if pin_host_key:
            extra["host_key"] = self.host_key
        if key:
            extra["key_file"] = str(self.home / "user_key")
        conn = {
            "conn_type": "sftp",
            "host": LOOPBACK,
            "port": self.port,
            "login": USER,
            "extra": extra,
        }
        if not key:
            conn["password"] = self.password
        return json.dumps(conn)

    def put(self, name: str, data: bytes) -> Path:
        """Drop a file in the folder as the test user would."""
        path = self.drop / name
        path.write_bytes(data)
        shutil.chown(path, USER)
        return path

    def stop(self) -> None:
        """Kill the daemon and every session it forked (transfers in flight are cut)."""
        if self.process is not None and self.process.poll() is None:
            for child in psutil.Process(self.process.pid).children(recursive=True):
                try:
                    child.kill()
                except psutil.NoSuchProcess:
                    pass  # a session that ended on its own meanwhile
        super().stop()
