"""Resolve connection ids the way Airflow does, without needing Airflow.

Airflow reads a Connection from ``AIRFLOW_CONN_<CONN_ID>`` (a URI or a JSON object) before its
metadata database, so the same variable works for tasks, the CLI and tests. Secrets therefore
live in the environment or the Airflow secrets backend, never in ``conf/``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

from govlake.errors import GovlakeError

SQLALCHEMY_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "sqlite": "sqlite",
}


def env_var(conn_id: str) -> str:
    """Name of the environment variable that holds the connection ``conn_id``."""
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def database_url(conn_id: str, default_url: str | None = None) -> str:
    """SQLAlchemy URL for ``conn_id``: from its Airflow Connection, else ``default_url``."""
    raw = _defined(conn_id, default_url)
    if raw is None:
        return str(default_url)
    return _airflow_uri_to_sqlalchemy(conn_id, raw.strip())


def _defined(conn_id: str, default_url: str | None) -> str | None:
    """The connection's variable, ``None`` to use ``default_url``; an error when neither is set."""
    raw = os.environ.get(env_var(conn_id))
    if raw is None and default_url is None:
        raise GovlakeError(
            f"connection {conn_id!r} is not defined: set {env_var(conn_id)} "
            "or an Airflow Connection with that id"
        )
    return raw


def _airflow_uri_to_sqlalchemy(conn_id: str, raw: str) -> str:
    if raw.startswith("{"):
        try:
            conn = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise GovlakeError(f"{env_var(conn_id)} is not valid JSON: {exc}") from None
        auth = quote(conn.get("login") or "", safe="")
        if conn.get("password"):
            auth += ":" + quote(conn["password"], safe="")
        host = conn.get("host") or ""
        if conn.get("port"):
            host += f":{conn['port']}"
        netloc = f"{auth}@{host}" if auth else host
        raw = urlunsplit(
            (conn.get("conn_type", ""), netloc, "/" + (conn.get("schema") or ""), "", "")
        )
    parts = urlsplit(raw)
    scheme = parts.scheme.replace("-", "_")
    if "+" in scheme:
        return raw
    driver = SQLALCHEMY_DRIVERS.get(scheme)
    if driver is None:
        raise GovlakeError(f"{env_var(conn_id)}: unsupported database type {parts.scheme!r}")
    return urlunsplit((driver, *parts[1:]))


@dataclass(frozen=True)
class Endpoint:
    """A server as an Airflow Connection describes it; ``extra`` holds the query/extra fields."""

    conn_id: str
    scheme: str
    host: str
    port: int | None
    login: str | None
    password: str | None = field(repr=False)
    path: str
    extra: dict[str, Any]

    def __str__(self) -> str:
        """``scheme://login@host:port/path``, never the password."""
        auth = f"{self.login}@" if self.login else ""
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}://{auth}{self.host}{port}{self.path}"


def endpoint(conn_id: str, default_url: str | None = None) -> Endpoint:
    """The server behind ``conn_id``: its Airflow Connection, else ``default_url``."""
    raw = (_defined(conn_id, default_url) or str(default_url)).strip()
    if raw.startswith("{"):
        try:
            conn = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise GovlakeError(f"{env_var(conn_id)} is not valid JSON: {exc}") from None
        extra = conn.get("extra") or {}
        return Endpoint(
            conn_id=conn_id,
            scheme=str(conn.get("conn_type", "")).replace("_", "-"),
            host=conn.get("host") or "",
            port=int(conn["port"]) if conn.get("port") else None,
            login=conn.get("login"),
            password=conn.get("password"),
            path="/" + (conn.get("schema") or "").lstrip("/"),
            extra=json.loads(extra) if isinstance(extra, str) else dict(extra),
        )
    parts = urlsplit(raw)
    try:
        port = parts.port
    except ValueError as exc:
        raise GovlakeError(f"connection {conn_id!r}: {exc}") from None
    return Endpoint(
        conn_id=conn_id,
        scheme=parts.scheme.replace("_", "-"),
        host=parts.hostname or "",
        port=port,
        login=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        path=unquote(parts.path) or "/",
        extra=dict(parse_qsl(parts.query)),
    )
