"""Open the platform database at the latest schema (Alembic upgrade on open), never resetting it.

A database at a revision of these migrations is upgraded. One with tables but no govlake
revision, or at a revision these migrations do not know, is refused as it is. An empty one is
created only on a first start: each created database leaves a record in
``$GOVLAKE_HOME/platform/`` (keyed by its address), so one that is empty later (emptied,
truncated, replaced) is refused instead of silently re-created with its ledger, catalog,
identity and audit gone. Deleting that record is how an operator starts over on purpose.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
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


def _known_revisions() -> set[str]:
    scripts = ScriptDirectory.from_config(_alembic_config())
    return {script.revision for script in scripts.walk_revisions()}


def _checked_state(connection: sa.Connection, shown: str) -> str | None:
    """The database's govlake revision, ``None`` when it is empty; an error when it is foreign."""
    tables = set(sa.inspect(connection).get_table_names())
    if not tables:
        return None
    if "alembic_version" not in tables:
        listed = ", ".join(sorted(tables)[:5])
        raise GovlakeError(
            f"platform database {shown} holds tables ({listed}) but no govlake revision: "
            "it is not a govlake platform database; nothing was changed"
        )
    revision = connection.scalar(sa.text("SELECT version_num FROM alembic_version"))
    if revision not in _known_revisions():
        raise GovlakeError(
            f"platform database {shown} is at revision {revision!r}, which these migrations do "
            f"not know (their head is {head_revision()}); nothing was changed"
        )
    return str(revision)


def _creation_record(config: ProjectConfig, shown: str) -> Path:
    digest = hashlib.sha256(shown.encode("utf-8")).hexdigest()[:16]
    return config.home / "platform" / f"{digest}.created"


def _refuse_reset(record: Path, shown: str) -> None:
    created = json.loads(record.read_text(encoding="utf-8")).get("created_at", "?")
    raise GovlakeError(
        f"platform database {shown} is empty, but it was created on {created} ({record}): its "
        "exchange ledger, catalog, identity and audit are gone. Restore it from a backup; to "
        f"start over on purpose, delete {record}"
    )


def _remember(record: Path, shown: str) -> None:
    record.parent.mkdir(parents=True, exist_ok=True)
    entry = {"database": shown, "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
    part = record.with_suffix(".part")
    part.write_text(json.dumps(entry) + "\n", encoding="utf-8")
    part.replace(record)


def open_platform_db(config: ProjectConfig) -> sa.Engine:
    """An engine on the platform DB, migrated to the latest revision (see the module's rules)."""
    url = platform_url(config)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # No pool: the platform DB sees a few short transactions per task, and a pooled connection
    # would outlive the task.
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    shown = engine.url.render_as_string(hide_password=True)
    record = _creation_record(config, shown)
    try:
        # Alembic keeps its migration context in module globals: one migration per process.
        with _MIGRATING, _quiet_migrations(), engine.begin() as connection:
            if _checked_state(connection, shown) is None and record.exists():
                _refuse_reset(record, shown)
            alembic = _alembic_config()
            alembic.attributes["connection"] = connection
            command.upgrade(alembic, "head")
        if not record.exists():
            _remember(record, shown)
    except sa.exc.DatabaseError as exc:  # unreachable, refused, or a file that is no database
        raise GovlakeError(
            f"platform database {engine.url.render_as_string(hide_password=True)} "
            f"cannot be opened: {str(exc.orig).strip().splitlines()[0]}"
        ) from None
    return engine
