"""Spark, the batch engine, on the Delta lakehouse through a delta-rs-backed data source."""
