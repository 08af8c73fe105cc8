"""The platform database: exchange nodes and the exchange ledger (SQLite by default)."""
