"""Exchange attempts: the principal that delivered, and the file's path recorded before upload."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    """Add ``actor`` and ``path`` to ``exchange_delivery`` (empty on earlier attempts)."""
    with op.batch_alter_table("exchange_delivery") as table:
        table.add_column(sa.Column("actor", sa.String(128)))
        table.add_column(sa.Column("path", sa.Text))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("exchange_delivery") as table:
        table.drop_column("path")
        table.drop_column("actor")
