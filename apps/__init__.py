"""The entry points, the top floor: the command, the DAG factory and its tasks, the demo, the APIs.

The ``govlake`` command, the DAG factory and its tasks, the demo and its local servers, and the
HTTP apps. Everything below is reached from here; nothing
below imports this package (docs/adr/0011-layers.md).
"""
