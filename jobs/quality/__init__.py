"""Quality control: Great Expectations suites as commit gates, pandera contracts at boundaries.

Importing Great Expectations costs about ten seconds, so nothing here imports it at module
level; the first validation in a process pays once.
"""
