"""Alembic environment: migrate the connection handed over by ``open_platform_db``."""

from __future__ import annotations

from alembic import context

from govlake.platform_db.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
