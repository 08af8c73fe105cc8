"""Exchange attempts: the share grant each delivered under."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    """Add ``grant_id`` to ``exchange_delivery`` (empty on earlier attempts)."""
    with op.batch_alter_table("exchange_delivery") as table:
        table.add_column(sa.Column("grant_id", sa.Integer))


def downgrade() -> None:
    """Drop it again."""
    with op.batch_alter_table("exchange_delivery") as table:
        table.drop_column("grant_id")
