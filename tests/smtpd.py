"""A real SMTP server (aiosmtpd) on a loopback port, and a webhook receiver that checks signatures.

The SMTP server speaks plain SMTP, STARTTLS or SMTPS with a self-signed certificate made for
127.0.0.1, optionally requires a login, keeps every message it accepted (parsed, with its
envelope), and can hold its answer to each DATA until released, as a slow server would. It is
stopped with a timeout. The webhook receiver keeps every POST whose ``X-Govlake-Signature``
matches its key and answers 401 to the others, or the status it is told to answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from apps.local_servers import LOOPBACK, free_port

Mode = Literal["plain", "starttls", "smtps"]
STOP_TIMEOUT_S = 10


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files in ``folder``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LOOPBACK)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "smtp.crt", folder / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@dataclass
class Received:
    """One message the server accepted."""

    sender: str
    recipients: list[str]
    message: EmailMessage
    raw: bytes


@dataclass
class _Handler:
    received: list[Received]
    hold: threading.Event
    held: threading.Event

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed,
                                      envelope.content))  # fmt: skip
        self.held.set()
        while not self.hold.is_set():  # a slow server: accepted, the answer waits
            await _sleep(0.02)
        return "250 OK"


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


@dataclass
class SmtpServer:
    """aiosmtpd on ``port``; start and stop it as often as a test needs."""

    folder: Path
    mode: Mode = "plain"
    login: tuple[str, str] | None = None
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    hold: threading.Event = field(default_factory=threading.Event)
    held: threading.Event = field(default_factory=threading.Event)
    controller: Controller | None = None

    def __post_init__(self) -> None:
        self.hold.set()
        self.cert, self.key = self_signed(self.folder)

    def url(self, sender: str = "政务数据平台 <noreply@platform.gov.cn>") -> str:
        """The ``AIRFLOW_CONN_<ID>`` value (JSON) of an SMTP connection to this server."""
        login, password = self.login or (None, None)
        extra = {"from_email": sender, "disable_ssl": self.mode != "smtps",
                 "disable_tls": self.mode == "plain"}  # fmt: skip
        return json.dumps({"conn_type": "smtp", "host": LOOPBACK, "port": self.port,
                           "login": login, "password": password, "extra": extra})  # fmt: skip

    def start(self) -> SmtpServer:
        """Listen on the port."""
        import ssl

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        options: dict[str, Any] = {"hostname": LOOPBACK, "port": self.port}
        if self.mode == "smtps":
            options["ssl_context"] = context
        if self.mode == "starttls":
            options.update(tls_context=context, require_starttls=True)
        if self.login:
            # aiosmtpd sees TLS only when STARTTLS made it; SMTPS is TLS from the first byte
            options.update(authenticator=self._authenticate, auth_required=True,
                           auth_require_tls=self.mode == "starttls")  # fmt: skip
        handler = _Handler(self.received, self.hold, self.held)
        self.controller = Controller(handler, **options)
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop listening, within :data:`STOP_TIMEOUT_S` or fail."""
        controller, self.controller = self.controller, None
        if controller is None:
            return
        stopping = threading.Thread(target=controller.stop, daemon=True)
        stopping.start()
        stopping.join(STOP_TIMEOUT_S)
        assert not stopping.is_alive(), f"the SMTP server did not stop in {STOP_TIMEOUT_S} s"

    def message_ids(self) -> list[str]:
        """The Message-ID of every message accepted, in order (repeats included)."""
        return [str(r.message["Message-ID"]) for r in self.received]

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and self.login is not None and (
            data.login.decode(), data.password.decode()) == self.login  # fmt: skip
        return AuthResult(success=ok, handled=False)


@contextmanager
def smtp_server(folder: Path, mode: Mode = "plain", login: tuple[str, str] | None = None
                ) -> Iterator[SmtpServer]:  # fmt: skip
    """A started :class:`SmtpServer`, stopped at the end."""
    server = SmtpServer(folder, mode, login).start()
    try:
        yield server
    finally:
        server.hold.set()
        server.stop()


@dataclass
class Hooked:
    """One POST the receiver accepted: its headers and JSON body."""

    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class WebhookReceiver:
    """An HTTP server on loopback that accepts correctly signed POSTs."""

    key: str
    answer: int = 200
    received: list[Hooked] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    port: int = 0

    def url(self, path: str = "/hooks/govlake") -> str:
        """The ``AIRFLOW_CONN_<ID>`` value of a connection to this receiver, key as password."""
        return f"http://:{self.key}@{LOOPBACK}:{self.port}{path}"


@contextmanager
def webhook_receiver(key: str) -> Iterator[WebhookReceiver]:
    """A started :class:`WebhookReceiver`, shut down at the end."""
    receiver = WebhookReceiver(key)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            stamp = self.headers.get("X-Govlake-Timestamp", "")
            expected = (
                "sha256="
                + hmac.new(key.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
            )
            if not hmac.compare_digest(self.headers.get("X-Govlake-Signature", ""), expected):
                receiver.refused.append(self.path)
                self._answer(401)
                return
            if receiver.answer == 200:
                receiver.received.append(Hooked(dict(self.headers), json.loads(raw)))
            self._answer(receiver.answer)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(STOP_TIMEOUT_S)
