"""Identity: the organisation tree, users, password history, role assignments and grants.

Password hashes (Argon2id) are stored; passwords and token signing keys never are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    """Create the identity tables."""
    op.create_table(
        "identity_organisation",
        sa.Column("code", sa.String(63), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("parent", sa.String(63), sa.ForeignKey("identity_organisation.code")),
    )
    op.create_table(
        "identity_user",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column(
            "organisation",
            sa.String(63),
            sa.ForeignKey("identity_organisation.code"),
            nullable=False,
        ),
        sa.Column("password_hash", sa.String(255)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failed_attempts", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("password_changed_at", sa.DateTime(timezone=True)),
        sa.Column("token_generation", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "identity_password_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("identity_user.id"), nullable=False, index=True
        ),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "identity_role_assignment",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("identity_user.id"), nullable=False, index=True
        ),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column(
            "scope", sa.String(63), sa.ForeignKey("identity_organisation.code"), nullable=False
        ),
        sa.Column("assigned_by", sa.String(64), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "role", "scope"),
    )
    op.create_table(
        "identity_grant",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("grantee_user", sa.Integer, sa.ForeignKey("identity_user.id")),
        sa.Column(
            "grantee_organisation", sa.String(63), sa.ForeignKey("identity_organisation.code")
        ),
        sa.Column("verb", sa.String(32), nullable=False),
        sa.Column("securable", sa.String(200), nullable=False, index=True),
        sa.Column("granted_by", sa.String(64), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(grantee_user IS NULL) <> (grantee_organisation IS NULL)",
            name="identity_grant_one_grantee",
        ),
    )


def downgrade() -> None:
    """Drop the identity tables."""
    for table in (
        "identity_grant",
        "identity_role_assignment",
        "identity_password_history",
        "identity_user",
        "identity_organisation",
    ):
        op.drop_table(table)
