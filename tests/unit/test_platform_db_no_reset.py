"""A platform DB is created on a first start only: emptied, foreign or unknown ones are refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from govlake.config.project import ProjectConfig
from govlake.errors import GovlakeError
from govlake.platform_db.database import open_platform_db, platform_url

pytestmark = pytest.mark.unit


@pytest.fixture
def db(project: ProjectConfig) -> Path:
    """The platform DB file of a first start, created and migrated."""
    open_platform_db(project)
    return Path(platform_url(project).removeprefix("sqlite:///"))


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as con:
        return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_a_first_start_creates_and_a_second_reopens(project: ProjectConfig, db: Path) -> None:
    assert {"exchange_delivery", "catalog_entry", "audit_event"} <= _tables(db)
    (record,) = (project.home / "platform").glob("*.created")
    assert str(db) in record.read_text()
    open_platform_db(project)
    assert {"exchange_delivery", "catalog_entry", "audit_event"} <= _tables(db)


def test_an_emptied_database_is_refused_not_recreated(project: ProjectConfig, db: Path) -> None:
    db.write_bytes(b"")  # truncated to nothing
    with pytest.raises(GovlakeError, match=r"is empty, but it was created on .*Restore it"):
        open_platform_db(project)
    assert db.read_bytes() == b"", "nothing was created over it"


def test_a_database_whose_tables_were_dropped_is_refused(project: ProjectConfig, db: Path) -> None:
    with sqlite3.connect(db) as con:
        con.execute("DROP TABLE catalog_search")  # the full-text index takes its shadow tables
        for table in _tables(db):
            con.execute(f'DROP TABLE "{table}"')
    with pytest.raises(GovlakeError, match="is empty, but it was created on"):
        open_platform_db(project)
    assert _tables(db) == set()


def test_a_foreign_database_is_refused(project: ProjectConfig) -> None:
    path = Path(platform_url(project).removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE invoices (id integer)")
    with pytest.raises(GovlakeError, match=r"holds tables \(invoices\) but no govlake revision"):
        open_platform_db(project)
    assert _tables(path) == {"invoices"}


def test_an_unknown_revision_is_refused(project: ProjectConfig, db: Path) -> None:
    with sqlite3.connect(db) as con:
        con.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(GovlakeError, match="at revision '9999', which these migrations do not"):
        open_platform_db(project)


def test_deleting_the_creation_record_is_starting_over_on_purpose(
    project: ProjectConfig, db: Path
) -> None:
    db.write_bytes(b"")
    (record,) = (project.home / "platform").glob("*.created")
    record.unlink()
    open_platform_db(project)
    assert "exchange_delivery" in _tables(db)
