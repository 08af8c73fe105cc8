r"""Webhooks: one JSON POST per delivery, signed with the key of the webhook's connection.

The connection gives the address (``https://host:port/path``, its type ``https`` or ``http``)
and, as its password, the signing key; the key never travels. The ``generic`` format posts

    {"id": <idempotency key>, "event": ..., "object": ..., "subject": ..., "body": ...,
     "created_at": ...}

with headers ``Idempotency-Key``, ``X-Govlake-Event``, ``X-Govlake-Timestamp`` (Unix seconds)
and ``X-Govlake-Signature: sha256=<hex HMAC-SHA256(key, "<timestamp>.<body>")>``, so a receiver
checks the body and its age, and drops repeats by the key. The government IM robots have
shapes of their own: ``dingtalk`` (DingTalk: text message, ``timestamp`` and ``sign`` query
parameters, base64 HMAC-SHA256 of ``"<ms>\n<key>"``), ``feishu`` (Feishu/Lark: ``timestamp``
and ``sign`` in the body, HMAC-SHA256 keyed by ``"<s>\n<key>"``) and ``wecom`` (WeCom: text
message; the connection's password is the robot's ``key`` query parameter, no signature).

An answer 2xx is delivered; 408, 429 and 5xx, a timeout or a refused connection are tried
again; any other 4xx is refused for good.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx

from govlake.config.notifications import WebhookFormat
from govlake.connections import Endpoint
from services.notifications.channels.base import Outgoing, SendFailed

RETRIED = {408, 425, 429}
# What a format makes of a delivery: the JSON body, extra headers, query parameters.
Shaped = tuple[dict[str, Any], dict[str, str], dict[str, str]]
Shape = Callable[[Outgoing, str, int], Shaped]


def signature(key: str, timestamp: int, body: bytes) -> str:
    """The ``X-Govlake-Signature`` of ``body`` sent at ``timestamp``."""
    signed = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(key.encode(), signed, hashlib.sha256).hexdigest()


def _text(item: Outgoing) -> str:
    return f"{item.subject}\n{item.body}"


def _generic(item: Outgoing, key: str, now: int) -> Shaped:
    payload = {"id": item.key, "event": item.event, "object": item.object,
               "subject": item.subject, "body": item.body,
               "created_at": item.created_at.isoformat()}  # fmt: skip
    return payload, {"X-Govlake-Timestamp": str(now)}, {}


def _dingtalk(item: Outgoing, key: str, now: int) -> Shaped:
    ms = now * 1000
    digest = hmac.new(key.encode(), f"{ms}\n{key}".encode(), hashlib.sha256).digest()
    query = {"timestamp": str(ms), "sign": base64.b64encode(digest).decode()}
    return {"msgtype": "text", "text": {"content": _text(item)}}, {}, query


def _feishu(item: Outgoing, key: str, now: int) -> Shaped:
    digest = hmac.new(f"{now}\n{key}".encode(), b"", hashlib.sha256).digest()
    payload = {"timestamp": str(now), "sign": base64.b64encode(digest).decode(),
               "msg_type": "text", "content": {"text": _text(item)}}  # fmt: skip
    return payload, {}, {}


def _wecom(item: Outgoing, key: str, now: int) -> Shaped:
    return {"msgtype": "text", "text": {"content": _text(item)}}, {}, {"key": key}


SHAPES: dict[str, Shape] = {
    "generic": _generic,
    "dingtalk": _dingtalk,
    "feishu": _feishu,
    "wecom": _wecom,
}


class WebhookChannel:
    """POSTs to one webhook, one HTTP client for the batch."""

    def __init__(self, endpoint: Endpoint, shape: WebhookFormat, timeout: float) -> None:
        self.endpoint = endpoint
        self.shape = SHAPES[shape]
        self.generic = shape == "generic"
        port = f":{endpoint.port}" if endpoint.port else ""
        self.url = f"{endpoint.scheme}://{endpoint.host}{port}{endpoint.path}"
        self.client = httpx.Client(timeout=timeout, follow_redirects=False)

    def send(self, item: Outgoing) -> None:
        """POST ``item``; :class:`SendFailed` unless the answer is 2xx."""
        key = self.endpoint.password or ""
        if not key:
            raise SendFailed(f"{self.endpoint}: no key: set the connection's password")
        now = int(time.time())
        payload, headers, query = self.shape(item, key, now)
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers |= {"Content-Type": "application/json; charset=utf-8",
                    "Idempotency-Key": item.key, "X-Govlake-Event": item.event}  # fmt: skip
        if self.generic:
            headers["X-Govlake-Signature"] = signature(key, now, body)
        url = f"{self.url}?{urlencode(query)}" if query else self.url
        try:
            answer = self.client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SendFailed(f"{self.endpoint}: {type(exc).__name__}: {exc}") from None
        if answer.is_success:
            return
        said = f"{self.endpoint}: HTTP {answer.status_code} {answer.text[:200]}".strip()
        raise SendFailed(said, permanent=answer.status_code < 500 and
                         answer.status_code not in RETRIED)  # fmt: skip

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()
