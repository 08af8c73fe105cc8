"""Share tokens: the bearer tokens of Delta Sharing profile files, stored as SHA-256 digests."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    """Create the share token table."""
    op.create_table(
        "share_token",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "grant_id", sa.Integer, sa.ForeignKey("share_grant.id"), nullable=False, index=True
        ),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("principal", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    """Drop the share token table."""
    op.drop_table("share_token")
