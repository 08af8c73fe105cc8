"""Opening the platform DB migrates it without filling command output with Alembic's steps."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from govlake.config.project import ProjectConfig
from govlake.platform_db.database import head_revision, open_platform_db

pytestmark = pytest.mark.unit


def test_migrating_logs_no_step_lines(
    project: ProjectConfig, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        engine = open_platform_db(project)
    with engine.connect() as db:
        assert db.scalar(sa.text("SELECT version_num FROM alembic_version")) == head_revision()
    assert not [r for r in caplog.records if r.name.startswith("alembic")]
    assert logging.getLogger("alembic").level == logging.NOTSET, "the level is given back"
