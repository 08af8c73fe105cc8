"""Validation suites (``<zone>__<table>.json``, Great Expectations) and pandera contracts."""
