"""The platform database (SQLite by default, PostgreSQL in production) and its migrations.

It holds the exchange nodes and ledger, the catalog, identity (organisations, users, roles,
grants) and the append-only audit ledger; Alembic migrates it to the latest revision on open.
"""
