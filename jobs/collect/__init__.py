"""Collection: one source stream into its bronze table, incrementally and exactly once."""
