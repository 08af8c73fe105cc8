"""Catalog resources, their versioned entries, workflow events and the full-text index.

The full-text index holds text already cut into words (jieba, see ``catalog.search``): an FTS5
table on SQLite, a table with a weighted ``tsvector`` and a GIN index on PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from govlake.errors import GovlakeError

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    """Create the catalog tables and the search index of the database's dialect."""
    op.create_table(
        "catalog_resource",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("dataset", sa.String(127), nullable=False, unique=True),
        sa.Column("owner", sa.String(63), nullable=False),
        sa.Column("latest_version", sa.Integer, nullable=False),
        sa.Column("published_version", sa.Integer),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "catalog_entry",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("diff", sa.JSON),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "catalog_event",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("code", sa.String(32), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("department", sa.String(63)),
        sa.Column("comment", sa.Text),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "CREATE TABLE catalog_search ("
            " code varchar(32) PRIMARY KEY, title text NOT NULL, description text NOT NULL,"
            " columns text NOT NULL,"
            " document tsvector GENERATED ALWAYS AS ("
            "  setweight(to_tsvector('simple', title), 'A')"
            "  || setweight(to_tsvector('simple', columns), 'B')"
            "  || setweight(to_tsvector('simple', description), 'C')) STORED)"
        )
        op.execute("CREATE INDEX catalog_search_document ON catalog_search USING gin (document)")
    elif dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE catalog_search USING fts5("
            "code UNINDEXED, title, description, columns, tokenize='unicode61')"
        )
    else:
        raise GovlakeError(f"the platform database must be SQLite or PostgreSQL, not {dialect}")


def downgrade() -> None:
    """Drop the catalog tables and its search index."""
    for table in ("catalog_search", "catalog_event", "catalog_entry", "catalog_resource"):
        op.drop_table(table)
