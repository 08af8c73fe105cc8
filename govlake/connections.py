"""Resolve a connection id the way Airflow does, with or without Airflow running.

Lookup order:

1. Inside an Airflow task, Airflow itself (``Connection.get``), in its own order: a configured
   secrets backend, then ``AIRFLOW_CONN_<ID>``, then the metadata database, so connections made
   in the UI, the REST API or the CLI work. Only a process that is running a task asks Airflow;
   the govlake CLI and ``govlake run`` never import it.
2. ``AIRFLOW_CONN_<ID>`` (a URI or a JSON object, read as Airflow reads them): the only origin
   outside a task. Inside one it is read when Airflow found nothing, so that a malformed
   variable, which Airflow skips, is reported as such.
3. The caller's ``default_url``; without one, an error naming both ways to define the connection.

Both origins give one :class:`ConnectionRecord`, from which :func:`database_url` and
:func:`endpoint` are derived. Secrets live in the environment or Airflow, never in ``conf/``,
and never in a message: neither the record nor an :class:`Endpoint` shows its password.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from govlake.errors import GovlakeError

if TYPE_CHECKING:
    from airflow.sdk import Connection

SQLALCHEMY_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "sqlite": "sqlite",
}
# Airflow's task runner module sets SUPERVISOR_COMMS, its channel to the supervisor, for the
# task it runs; Airflow's own choice of the workers' secrets backends tests the same global.
TASK_RUNNER = "airflow.sdk.execution_time.task_runner"
# Airflow's URI form of an extra that is not flat strings: JSON in this query parameter.
EXTRA_KEY = "__extra__"


def env_var(conn_id: str) -> str:
    """Name of the environment variable that holds the connection ``conn_id``."""
    return f"AIRFLOW_CONN_{conn_id.upper()}"


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


@dataclass(frozen=True)
class ConnectionRecord:
    """The fields of one Airflow Connection, whichever way it was defined.

    ``origin`` names where it was defined (``AIRFLOW_CONN_<ID>``, the Airflow connection), for
    error messages; ``conn_type`` is in Airflow's form (``-`` read as ``_``).
    """

    conn_id: str
    origin: str
    conn_type: str
    host: str = ""
    port: int | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    schema: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, conn_id: str, value: str, origin: str) -> ConnectionRecord:
        """A connection from a JSON object or a URI, as Airflow reads ``AIRFLOW_CONN_<ID>``."""
        value = value.strip()
        if value.startswith("{"):
            return cls._parse_json(conn_id, value, origin)
        parts = urlsplit(value)
        try:
            port = parts.port
        except ValueError:
            raise GovlakeError(
                f"{origin}: the port is not a number (URL-quote the login and password)"
            ) from None
        query: dict[str, Any] = dict(parse_qsl(parts.query, keep_blank_values=True))
        if EXTRA_KEY in query:
            query = _json_object(query[EXTRA_KEY], f"{origin} extra")
        return cls(
            conn_id=conn_id,
            origin=origin,
            conn_type=parts.scheme.replace("-", "_"),
            host=unquote(parts.hostname or ""),
            port=port,
            login=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            schema=unquote(parts.path[1:]),
            extra=query,
        )

    @classmethod
    def _parse_json(cls, conn_id: str, value: str, origin: str) -> ConnectionRecord:
        fields = _json_object(value, origin)
        port = fields.get("port")
        try:
            port = int(port) if port else None
        except (TypeError, ValueError):
            raise GovlakeError(f"{origin}: port {port!r} is not a number") from None
        return cls(
            conn_id=conn_id,
            origin=origin,
            conn_type=str(fields.get("conn_type") or "").replace("-", "_"),
            host=fields.get("host") or "",
            port=port,
            login=fields.get("login") or None,
            password=fields.get("password") or None,
            schema=fields.get("schema") or "",
            extra=_json_object(fields.get("extra") or {}, f"{origin} extra"),
        )

    @classmethod
    def from_airflow(cls, conn: Connection) -> ConnectionRecord:
        """The record of a Connection that Airflow resolved."""
        return cls(
            conn_id=conn.conn_id,
            origin=f"Airflow connection {conn.conn_id!r}",
            conn_type=(conn.conn_type or "").replace("-", "_"),
            host=conn.host or "",
            port=conn.port,
            login=conn.login or None,
            password=conn.password or None,
            schema=conn.schema or "",
            extra=conn.extra_dejson,
        )

    def sqlalchemy_url(self) -> str:
        """The SQLAlchemy URL: the database type's driver, ``extra`` as the query.

        The schema may carry a query of its own (``"schema": "db?charset=utf8mb4"``).
        """
        from sqlalchemy.engine import URL

        driver = self.conn_type if "+" in self.conn_type else SQLALCHEMY_DRIVERS.get(self.conn_type)
        if driver is None:
            raise GovlakeError(f"{self.origin}: unsupported database type {self.conn_type!r}")
        database, _, query = self.schema.partition("?")
        extra = {k: v if isinstance(v, str) else json.dumps(v) for k, v in self.extra.items()}
        url = URL.create(
            driver,
            username=self.login,
            password=self.password,
            host=self.host or None,
            port=self.port,
            database=database or None,
            query=dict(parse_qsl(query)) | extra,
        )
        return url.render_as_string(hide_password=False)

    def endpoint(self) -> Endpoint:
        """The server it describes; the schema is the path."""
        return Endpoint(
            conn_id=self.conn_id,
            scheme=self.conn_type.replace("_", "-"),
            host=self.host,
            port=self.port,
            login=self.login,
            password=self.password,
            path="/" + self.schema.lstrip("/"),
            extra=self.extra,
        )


def _json_object(value: Any, what: str) -> dict[str, Any]:
    """``value`` as a JSON object, parsed first if it is text."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise GovlakeError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise GovlakeError(f"{what} is not a JSON object")
    return value


def lookup(conn_id: str) -> ConnectionRecord | None:
    """The connection ``conn_id`` (Airflow's inside a task, else its variable); ``None`` if none."""
    if _in_airflow_task():
        from airflow.sdk import Connection
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            return ConnectionRecord.from_airflow(Connection.get(conn_id))
        except AirflowNotFoundException:
            pass  # Airflow skips a variable it cannot read: parse it below to say what is wrong
    value = os.environ.get(env_var(conn_id))
    return None if value is None else ConnectionRecord.parse(conn_id, value, env_var(conn_id))


def _in_airflow_task() -> bool:
    """Whether an Airflow task runner (a worker's, or ``dag.test()``'s in-process one) runs this.

    Looks in ``sys.modules`` only, so a process that has not imported Airflow never does here.
    """
    return getattr(sys.modules.get(TASK_RUNNER), "SUPERVISOR_COMMS", None) is not None


def _defined(conn_id: str, default_url: str | None) -> ConnectionRecord | None:
    """The connection, ``None`` to use ``default_url``; an error when neither is defined."""
    record = lookup(conn_id)
    if record is None and default_url is None:
        raise GovlakeError(
            f"connection {conn_id!r} is not defined: set {env_var(conn_id)} "
            "or an Airflow Connection with that id"
        )
    return record


def database_url(conn_id: str, default_url: str | None = None) -> str:
    """SQLAlchemy URL for ``conn_id``: from its Airflow Connection, else ``default_url``."""
    record = _defined(conn_id, default_url)
    return str(default_url) if record is None else record.sqlalchemy_url()


def endpoint(conn_id: str, default_url: str | None = None) -> Endpoint:
    """The server behind ``conn_id``: its Airflow Connection, else ``default_url``."""
    record = _defined(conn_id, default_url) or ConnectionRecord.parse(
        conn_id, str(default_url), f"default URL of connection {conn_id!r}"
    )
    return record.endpoint()


def secret(env: str, conn_id: str) -> tuple[str, str] | None:
    """A key or password: the variable ``env``, else the password of connection ``conn_id``.

    Returns the value and where it came from (for messages, which never show the value).
    """
    if value := os.environ.get(env):
        return value, env
    record = lookup(conn_id)
    if record is not None and record.password:
        return record.password, f"the password of {record.origin}"
    return None
