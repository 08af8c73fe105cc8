"""Delay alerts: each overdue run or application step, and each warning or escalation, once."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_alerts"
down_revision = "0009"


def upgrade() -> None:
    """Create ``notify_alert``."""
    op.create_table(
        "notify_alert",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(255), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("object", sa.String(255), nullable=False, index=True),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipients", sa.JSON, nullable=False),
        sa.Column("message", sa.Integer, sa.ForeignKey("notify_message.id"), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    """Drop it again."""
    op.drop_table("notify_alert")
