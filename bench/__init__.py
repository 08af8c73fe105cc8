"""Benchmarks: each prints ratios against a peer run on the same data in the same process."""
