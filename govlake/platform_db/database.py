"""Open the platform database at the latest schema (Alembic upgrade on open)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from govlake.config.project import ProjectConfig
from govlake.connections import database_url
from govlake.errors import GovlakeError

MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATING = threading.Lock()


def platform_url(config: ProjectConfig) -> str:
    """SQLAlchemy URL of the platform DB: its connection, else the conf default, else SQLite."""
    db = config.platform.database
    return database_url(db.conn_id, db.default_url or f"sqlite:///{config.home}/platform.db")


def _alembic_config() -> Config:
    alembic = Config()
    alembic.set_main_option("script_location", str(MIGRATIONS))
    return alembic


def head_revision() -> str | None:
    """The latest migration: the revision every opened platform DB is at."""
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


@contextmanager
def _quiet_migrations() -> Iterator[None]:
    """Alembic's per-step INFO lines stay out of command output; warnings still show."""
    migration_log = logging.getLogger("alembic")
    level = migration_log.level
    migration_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        migration_log.setLevel(level)


def open_platform_db(config: ProjectConfig) -> sa.Engine:
    """An engine on the platform DB, migrated to the latest revision."""
    url = platform_url(config)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # No pool: the platform DB sees a few short transactions per task, and a pooled connection
    # would outlive the task.
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        # Alembic keeps its migration context in module globals: one migration per process.
        with _MIGRATING, _quiet_migrations(), engine.begin() as connection:
            alembic = _alembic_config()
            alembic.attributes["connection"] = connection
            command.upgrade(alembic, "head")
    except sa.exc.OperationalError as exc:
        raise GovlakeError(
            f"platform database {engine.url.render_as_string(hide_password=True)} "
            f"cannot be opened: {exc.orig}"
        ) from None
    return engine
