"""Department exchange: deliver lakehouse datasets to department nodes, with a ledger."""
