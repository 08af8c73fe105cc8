"""One parsed record of a connection, from AIRFLOW_CONN_<ID> or from Airflow's Connection."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from govlake.connections import ConnectionRecord, database_url, endpoint, lookup
from govlake.errors import GovlakeError
from tests.conftest import REPO

pytestmark = pytest.mark.unit
VAR = "AIRFLOW_CONN_SRC"
SFTP_EXTRA = {"key_file": "/keys/id_ed25519", "host_key": "ssh-ed25519 AAAA"}


def _parse(value: str) -> ConnectionRecord:
    return ConnectionRecord.parse("src", value, VAR)


def test_a_uri_unquotes_login_password_and_path() -> None:
    record = _parse("ftp://etl%40hr:p%40ss%2Fw%3Ard%23@Drop.Example:2121/out%20box?tls=true")
    assert record == ConnectionRecord(
        conn_id="src",
        origin=VAR,
        conn_type="ftp",
        host="drop.example",
        port=2121,
        login="etl@hr",
        password="p@ss/w:rd#",
        schema="out box",
        extra={"tls": "true"},
    )
    server = record.endpoint()
    assert (server.scheme, server.path, server.password) == ("ftp", "/out box", "p@ss/w:rd#")
    assert "p@ss" not in repr(record) + repr(server) + str(server)


def test_a_uri_without_path_is_the_root_and_dashes_are_read_as_underscores() -> None:
    record = _parse("google-cloud-platform://host")
    assert (record.conn_type, record.schema) == ("google_cloud_platform", "")
    assert (record.endpoint().scheme, record.endpoint().path) == ("google-cloud-platform", "/")


@pytest.mark.parametrize("extra", [SFTP_EXTRA, json.dumps(SFTP_EXTRA)], ids=["object", "string"])
def test_json_extra_as_object_or_as_string(extra: object) -> None:
    value = {"conn_type": "sftp", "host": "h", "port": "22", "login": "u", "extra": extra}
    record = _parse(json.dumps(value))
    assert (record.conn_type, record.host, record.port, record.login) == ("sftp", "h", 22, "u")
    assert record.password is None and record.extra == SFTP_EXTRA
    assert record.endpoint().extra["host_key"] == "ssh-ed25519 AAAA"


def test_a_uri_extra_in_airflow_json_form() -> None:
    record = _parse("sftp://u@h?__extra__=" + json.dumps({"retries": 3, "key_file": "/k"}))
    assert record.extra == {"retries": 3, "key_file": "/k"}


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("postgres://etl:s%40cret@db:5432/reg", "postgresql+psycopg://etl:s%40cret@db:5432/reg"),
        ("postgresql://db/reg?sslmode=require", "postgresql+psycopg://db/reg?sslmode=require"),
        ("mysql://etl:pw@db:3306/reg", "mysql+pymysql://etl:pw@db:3306/reg"),
        ("mariadb://etl@db/reg", "mysql+pymysql://etl@db/reg"),
        (
            "mysql+mysqldb://etl@db/reg?charset=utf8mb4",
            "mysql+mysqldb://etl@db/reg?charset=utf8mb4",
        ),
        ("sqlite:////var/lib/govlake/platform.db", "sqlite:////var/lib/govlake/platform.db"),
        ("sqlite:///platform.db", "sqlite:///platform.db"),
    ],
)
def test_database_types_map_to_sqlalchemy_drivers(
    value: str, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VAR, value)
    assert database_url("src") == url


def test_json_database_connection_with_a_query_in_its_schema() -> None:
    value = {
        "conn_type": "mariadb",
        "host": "db",
        "port": 3306,
        "login": "root",
        "password": "p@ss",
        "schema": "registry?charset=utf8mb4",
        "extra": {"connect_timeout": 5},
    }
    assert _parse(json.dumps(value)).sqlalchemy_url() == (
        "mysql+pymysql://root:p%40ss@db:3306/registry?charset=utf8mb4&connect_timeout=5"
    )


def test_an_unsupported_database_type_is_named() -> None:
    record = _parse("oracle://etl@db:1521/registry")
    with pytest.raises(GovlakeError) as caught:
        record.sqlalchemy_url()
    assert str(caught.value) == "AIRFLOW_CONN_SRC: unsupported database type 'oracle'"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"conn_type": "ftp", "host": }', "AIRFLOW_CONN_SRC is not valid JSON: Expecting value"),
        ('{"conn_type": "ftp", "extra": "{oops"}', "AIRFLOW_CONN_SRC extra is not valid JSON: "),
        ('{"conn_type": "ftp", "extra": "[1]"}', "AIRFLOW_CONN_SRC extra is not a JSON object"),
        ('{"conn_type": "ftp", "port": "21a"}', "AIRFLOW_CONN_SRC: port '21a' is not a number"),
    ],
)
def test_bad_json_is_named(value: str, message: str) -> None:
    with pytest.raises(GovlakeError) as caught:
        _parse(value)
    assert str(caught.value).startswith(message)


def test_a_bad_port_does_not_show_an_unquoted_password() -> None:
    with pytest.raises(GovlakeError) as caught:
        _parse("ftp://etl:se/cret@drop:21")
    assert str(caught.value) == (
        "AIRFLOW_CONN_SRC: the port is not a number (URL-quote the login and password)"
    )
    assert "cret" not in str(caught.value)


def test_a_missing_connection_names_both_ways_to_define_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_HR_DROP", raising=False)
    expected = (
        "connection 'hr_drop' is not defined: set AIRFLOW_CONN_HR_DROP "
        "or an Airflow Connection with that id"
    )
    for resolve in (database_url, endpoint):
        with pytest.raises(GovlakeError) as caught:
            resolve("hr_drop")
        assert str(caught.value) == expected
    assert lookup("hr_drop") is None


def test_the_default_url_stands_in_for_a_missing_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_HR_DROP", raising=False)
    assert database_url("hr_drop", "sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert endpoint("hr_drop", "file:///srv/exchange").path == "/srv/exchange"
    monkeypatch.setenv("AIRFLOW_CONN_HR_DROP", "ftp://u@h")
    assert endpoint("hr_drop", "file:///srv/exchange").scheme == "ftp"


AIRFLOW_FORMS = [
    "ftp://etl%40hr:p%40ss%2Fw%3Ard@drop.example:2121/outbox",
    "http://:t0ken@api.example:8080/v1?timeout=30",
    "postgres://etl@db:5432/registry?options=-csearch_path%3Dstaging",
    "sqlite:////var/lib/govlake/platform.db",
    "sftp://u@h?__extra__=" + json.dumps({"retries": 3}),
    json.dumps({"conn_type": "sftp", "host": "h", "port": "22", "login": "u", "extra": SFTP_EXTRA}),
    json.dumps(
        {
            "conn_type": "mysql",
            "host": "db",
            "login": "r",
            "schema": "registry",
            "extra": json.dumps({"charset": "utf8mb4"}),
        }
    ),
]


@pytest.mark.parametrize("value", AIRFLOW_FORMS)
def test_the_record_agrees_with_airflow_reading_the_same_variable(value: str) -> None:
    """What Airflow makes of AIRFLOW_CONN_<ID> inside a task gives the record parsed without it."""
    from airflow.sdk import Connection

    conn = (Connection.from_json if value.startswith("{") else Connection.from_uri)(
        value, conn_id="src"
    )
    from_airflow = ConnectionRecord.from_airflow(conn)
    assert from_airflow.origin == "Airflow connection 'src'"
    assert dataclasses.replace(from_airflow, origin=VAR) == _parse(value)


def test_outside_a_task_airflow_is_not_imported() -> None:
    code = (
        "import os, sys\n"
        "from govlake.connections import database_url, endpoint\n"
        "os.environ['AIRFLOW_CONN_SRC'] = 'postgres://etl@db/registry'\n"
        "database_url('src'); endpoint('src'); endpoint('other', 'file:///srv')\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'airflow'], 'airflow imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_with_airflow_imported_but_no_task_running_the_variable_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.sdk.execution_time import task_runner

    assert getattr(task_runner, "SUPERVISOR_COMMS", None) is None
    monkeypatch.setenv(VAR, "ftp://u@h")
    assert lookup("src") == _parse("ftp://u@h")
    monkeypatch.delenv(VAR)
    assert lookup("src") is None
