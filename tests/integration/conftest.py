"""Real database servers for collection tests: the local PostgreSQL and MariaDB.

Each test gets its own schema (PostgreSQL) or database (MariaDB), dropped afterwards. A test
is skipped, with the reason, only where the server is absent from this machine.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from apps.local_servers import FtpServer
from tests.sshd import SshServer, missing_reason

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MARIADB = "mysql+pymysql://root@127.0.0.1:3306/test"


@pytest.fixture(autouse=True, scope="module")
def _one_spark_driver_per_module() -> Iterator[None]:
    """Stop the module's Spark session, so the next module may drive another master."""
    yield
    if "jobs.spark.session" in sys.modules:
        sys.modules["jobs.spark.session"].stop_sessions()


@pytest.fixture(scope="module")
def spark() -> object:
    """A local Spark session with two task slots, for the module."""
    from govlake.config.models import SparkConfig
    from jobs.spark.session import spark_session

    return spark_session(
        SparkConfig(master="local[2]", shuffle_partitions=2, options={"spark.ui.enabled": "false"})
    )


def _engine_or_skip(url: str) -> sa.Engine:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        pytest.skip(f"server not running at {url}: {str(exc.orig).splitlines()[0]}")
    return engine


@pytest.fixture
def postgres_schema() -> Iterator[tuple[sa.Engine, str]]:
    """An engine on the local PostgreSQL and a fresh schema in it."""
    engine = _engine_or_skip(POSTGRES)
    schema = f"t_{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    yield engine, schema
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.fixture
def mariadb_database() -> Iterator[tuple[sa.Engine, str]]:
    """An engine on a fresh database of the local MariaDB."""
    admin = _engine_or_skip(MARIADB)
    name = f"t_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    engine = sa.create_engine(f"mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4")
    yield engine, name
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP DATABASE {name}"))
    admin.dispose()


SOURCE_YAML = """\
name: {name}
kind: database
title: test source
owner: platform
conn_id: {name}_db
streams:
  - name: rows
    table: {table}
    primary_key: [id]
    cursor: {cursor}
    batch_size: {batch_size}
"""

DATASET_YAML = """\
datasets:
  - zone: bronze
    name: {name}
    title: test rows
    owner: platform
    keys: [id]
    write: {write}
    collect: {{source: {name}, stream: {stream}}}
"""

PIPELINE_YAML = """\
name: {name}_ingest
title: test ingest
description: collect test rows
owner: platform
schedule: "@daily"
builds: [bronze.{name}]
"""


@pytest.fixture
def source_conf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Write a minimal conf folder: one source (YAML given) collected into ``bronze.<name>``."""
    monkeypatch.setenv("GOVLAKE_HOME", str(tmp_path / "home"))

    def write(name: str, source_yaml: str, *, stream: str = "rows", write: str = "append") -> Path:
        conf = tmp_path / "conf"
        for folder in ("sources", "datasets", "pipelines"):
            (conf / folder).mkdir(parents=True, exist_ok=True)
        (conf / "lakehouse.yaml").write_text(f"root: {tmp_path}/lake\n")
        (conf / "departments.yaml").write_text(
            "departments:\n  - {code: platform, name: 大数据管理中心}\n", encoding="utf-8"
        )
        values = {"name": name, "stream": stream, "write": write}
        (conf / "sources" / f"{name}.yaml").write_text(source_yaml, encoding="utf-8")
        (conf / "datasets" / f"{name}.yaml").write_text(DATASET_YAML.format(**values))
        (conf / "pipelines" / f"{name}.yaml").write_text(PIPELINE_YAML.format(**values))
        return conf

    return write


@pytest.fixture
def single_source_conf(source_conf: Callable[..., Path]) -> Callable[..., Path]:
    """Write a minimal conf folder with one database source collected into bronze."""

    def write(name: str, table: str, cursor: str = "updated_at") -> Path:
        values = {"name": name, "table": table, "cursor": cursor, "batch_size": 3}
        return source_conf(name, SOURCE_YAML.format(**values))

    return write


@pytest.fixture
def ftp_server(tmp_path: Path) -> Iterator[FtpServer]:
    """pyftpdlib on a free loopback port, serving ``<tmp>/ftp`` to one user."""
    root = tmp_path / "ftp"
    root.mkdir()
    with FtpServer.serving(root, tmp_path / "ftp.log") as server:
        yield server


@pytest.fixture
def sftp_server() -> Iterator[SshServer]:
    """OpenSSH sshd on a free loopback port; skipped, with the reason, where it cannot run."""
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    home = Path(tempfile.mkdtemp(prefix="govlake-sshd-"))  # outside pytest's root-only tmp
    try:
        with SshServer.create(home) as server:
            yield server
    finally:
        shutil.rmtree(home, ignore_errors=True)
