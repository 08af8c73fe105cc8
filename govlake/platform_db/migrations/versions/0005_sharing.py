"""Sharing: resource applications, their workflow events, and the share grants they produce."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    """Create the sharing tables."""
    op.create_table(
        "share_application",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("applicant", sa.String(64), nullable=False),
        sa.Column("organisation", sa.String(63), nullable=False, index=True),
        sa.Column("resource", sa.String(32), nullable=False, index=True),
        sa.Column("dataset", sa.String(127), nullable=False),
        sa.Column("owner", sa.String(63), nullable=False, index=True),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("status", sa.String(32), nullable=False, index=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "share_application_event",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "application",
            sa.Integer,
            sa.ForeignKey("share_application.id"),
            nullable=False,
            index=True,
        ),  # fmt: skip
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(32)),
        sa.Column("to_status", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("organisation", sa.String(63)),
        sa.Column("comment", sa.Text),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "share_grant",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "application",
            sa.Integer,
            sa.ForeignKey("share_application.id"),
            nullable=False,
            unique=True,
        ),  # fmt: skip
        sa.Column("organisation", sa.String(63), nullable=False, index=True),
        sa.Column("resource", sa.String(32), nullable=False, index=True),
        sa.Column("dataset", sa.String(127), nullable=False, index=True),
        sa.Column("mode", sa.String(32), nullable=False),
        sa.Column("terms", sa.JSON, nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("granted_by", sa.String(64), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_by", sa.String(64)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
    )

    op.create_table(
        "share_call",
        sa.Column("grant_id", sa.Integer, sa.ForeignKey("share_grant.id"), primary_key=True),
        sa.Column("principal", sa.String(128), primary_key=True),
        sa.Column("minute", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("calls", sa.Integer, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("alerted", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    """Drop the sharing tables."""
    for table in ("share_call", "share_grant", "share_application_event", "share_application"):
        op.drop_table(table)
