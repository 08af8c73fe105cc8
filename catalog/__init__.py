"""The data catalog: entries generated from pipeline metadata, review and publication."""
