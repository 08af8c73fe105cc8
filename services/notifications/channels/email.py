"""E-mail over SMTP, with the server, login, password and sender of an Airflow Connection.

The connection is read as Airflow's SMTP provider reads it, so one connection serves both:
host and port, login and password (``AUTH`` only when a login is set), and the extras
``from_email`` (the sender, ``名称 <address>`` allowed), ``disable_ssl`` (default false: SMTPS,
TLS from the first byte) and ``disable_tls`` (default false: ``STARTTLS`` when SMTPS is off).
Certificates are checked against the system's CA bundle (``SSL_CERT_FILE`` to use another).
One SMTP session serves a whole batch; a server that cannot be reached fails every delivery
of the batch at once, to be tried again later.

Each message is UTF-8 text, base64 in the body and RFC 2047 in the headers (7-bit clean, for
any server); its ``Message-ID`` is made from the delivery's idempotency key, so a receiver can
drop a repeat.
"""

from __future__ import annotations

import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr

from govlake.connections import Endpoint
from services.notifications.channels.base import Outgoing, SendFailed

DOMAIN = "govlake"


def _flag(endpoint: Endpoint, name: str) -> bool:
    value = endpoint.extra.get(name, False)
    return value is True or str(value).lower() in {"true", "1", "yes"}


def compose(item: Outgoing, sender: str) -> EmailMessage:
    """The e-mail of ``item`` from ``sender``."""
    message = EmailMessage()
    message["Subject"] = item.subject
    message["From"] = sender
    message["To"] = Address(display_name=item.name, addr_spec=item.address)
    message["Date"] = format_datetime(item.created_at)
    message["Message-ID"] = f"<{item.key}@{DOMAIN}>"
    message["Auto-Submitted"] = "auto-generated"
    message["X-Govlake-Event"] = item.event
    message["X-Govlake-Object"] = item.object
    message.set_content(item.body, charset="utf-8", cte="base64")  # 7-bit safe on any server
    return message


class EmailChannel:
    """An SMTP session, opened on the first send."""

    def __init__(self, endpoint: Endpoint, timeout: float) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.session: smtplib.SMTP | None = None
        self.unreachable: str | None = None
        name, address = parseaddr(str(endpoint.extra.get("from_email") or endpoint.login or ""))
        self.sender = formataddr((name, address)) if address else ""

    def send(self, item: Outgoing) -> None:
        """Send ``item`` in this batch's session."""
        if not self.sender:
            raise SendFailed(f"{self.endpoint.conn_id}: no sender: set the extra from_email")
        session = self._session()
        try:
            refused = session.send_message(compose(item, self.sender))
        except smtplib.SMTPRecipientsRefused as exc:
            raise SendFailed(f"refused: {_reason(exc.recipients)}", permanent=True) from None
        except smtplib.SMTPResponseException as exc:
            raise SendFailed(_said(exc), permanent=500 <= exc.smtp_code < 600) from None
        except (smtplib.SMTPException, OSError) as exc:
            self._drop(f"{type(exc).__name__}: {exc}")
            raise SendFailed(self.unreachable or "") from None
        if refused:
            raise SendFailed(f"refused: {_reason(refused)}", permanent=True)

    def close(self) -> None:
        """End the session politely, if one is open."""
        if self.session is not None:
            try:
                self.session.quit()
            except (smtplib.SMTPException, OSError):
                self.session.close()
            self.session = None

    def _session(self) -> smtplib.SMTP:
        if self.session is not None:
            return self.session
        if self.unreachable:
            raise SendFailed(self.unreachable)
        try:
            self.session = self._connect()
        except smtplib.SMTPAuthenticationError as exc:
            self._drop(f"login refused: {_said(exc)}")
            raise SendFailed(self.unreachable or "") from None
        except (smtplib.SMTPException, OSError) as exc:
            self._drop(f"{type(exc).__name__}: {exc}")
            raise SendFailed(self.unreachable or "") from None
        return self.session

    def _connect(self) -> smtplib.SMTP:
        e = self.endpoint
        context = ssl.create_default_context()
        session: smtplib.SMTP
        if not _flag(e, "disable_ssl"):
            session = smtplib.SMTP_SSL(e.host, e.port or 465, timeout=self.timeout,
                                       context=context)  # fmt: skip
        else:
            session = smtplib.SMTP(e.host, e.port or 587, timeout=self.timeout)
        try:
            if _flag(e, "disable_ssl") and not _flag(e, "disable_tls"):
                session.starttls(context=context)
            if e.login:
                session.login(e.login, e.password or "")
        except BaseException:
            session.close()
            raise
        return session

    def _drop(self, why: str) -> None:
        self.unreachable = f"{self.endpoint}: {why}"
        if self.session is not None:
            self.session.close()
            self.session = None


def _said(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else ""
    return f"{exc.smtp_code} {text}".strip()


def _reason(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{to}: {code} {said.decode('utf-8', 'replace')}"
                     for to, (code, said) in refused.items())  # fmt: skip
