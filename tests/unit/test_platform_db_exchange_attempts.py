"""Migration 0006 keeps every ledger row of a platform DB at 0005 and adds actor and path."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from govlake.config.project import ProjectConfig
from govlake.platform_db.database import _alembic_config, open_platform_db, platform_url
from jobs.exchange.ledger import Ledger

pytestmark = pytest.mark.unit


def test_a_ledger_at_0005_is_upgraded_with_its_rows(project: ProjectConfig) -> None:
    url = platform_url(project)
    Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        alembic = _alembic_config()
        alembic.attributes["connection"] = connection
        command.upgrade(alembic, "0005")
        connection.execute(
            sa.text(
                "INSERT INTO exchange_delivery (subscription, node, endpoint, dataset, batch_id, "
                "to_version, target, status, attempt, trigger, started_at) VALUES ('s', 'n', "
                "'e', 'gold.x', 's@full-3', 3, 'sftp://h/in', 'delivered', 1, 'schedule', :at)"
            ),
            {"at": datetime(2026, 5, 1, tzinfo=UTC)},
        )
    engine.dispose()
    (row,) = Ledger(open_platform_db(project)).attempts("s")
    assert (row.batch_id, row.status, row.actor, row.path) == ("s@full-3", "delivered", None, None)
