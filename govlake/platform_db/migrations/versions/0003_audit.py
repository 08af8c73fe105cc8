"""The audit ledger: one append-only, hash-chained table (services.audit, docs/adr/0013).

Triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) whoever connects, so the
platform's own code cannot change a row by mistake. They are a guard, not the protection: the
owner of the table can drop them, which is why every row is sealed and verified.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from govlake.errors import GovlakeError

revision = "0003"
down_revision = "0002"

POSTGRES_GUARD = (
    "CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP; END $$",
    "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE OR TRUNCATE"
    " ON audit_event FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()",
)
SQLITE_GUARD = tuple(
    f"CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event"
    f" BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: {verb} refused'); END"
    for verb in ("UPDATE", "DELETE")
)


def upgrade() -> None:
    """Create the audit table, its indexes and the append-only guard of the dialect."""
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("principal", sa.String(128), nullable=False, index=True),
        sa.Column("organisation", sa.String(63)),
        sa.Column("action", sa.String(63), nullable=False, index=True),
        sa.Column("object", sa.String(255), nullable=False, index=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("client", sa.String(64)),
        sa.Column("request_id", sa.String(64)),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    dialect = op.get_bind().dialect.name
    guard = {"postgresql": POSTGRES_GUARD, "sqlite": SQLITE_GUARD}.get(dialect)
    if guard is None:
        raise GovlakeError(f"the platform database must be SQLite or PostgreSQL, not {dialect}")
    for statement in guard:
        op.execute(statement)


def downgrade() -> None:
    """Drop the audit table (its triggers go with it) and the PostgreSQL guard function."""
    op.drop_table("audit_event")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_event_append_only()")
