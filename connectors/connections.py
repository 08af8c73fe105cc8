"""Resolve connection ids the way Airflow does, without needing Airflow.

Airflow reads a Connection from ``AIRFLOW_CONN_<CONN_ID>`` (a URI or a JSON object) before its
metadata database, so the same variable works for tasks, the CLI and tests. Secrets therefore
live in the environment or the Airflow secrets backend, never in ``conf/``.
"""

from __future__ import annotations

import json
import os
from urllib.parse import quote, urlsplit, urlunsplit

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
    raw = os.environ.get(env_var(conn_id))
    if raw is None:
        if default_url is None:
            raise GovlakeError(
                f"connection {conn_id!r} is not defined: set {env_var(conn_id)} "
                "or an Airflow Connection with that id"
            )
        return default_url
    return _airflow_uri_to_sqlalchemy(conn_id, raw.strip())


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
