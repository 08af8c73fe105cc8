"""govlake: the data backbone of a government application collaboration platform.

The core floor (docs/adr/0011): what every floor above shares. Typed configuration
(``config/``), the lakehouse (``lakehouse.py``), the platform database (``platform_db/``),
connection lookup (``connections.py``), the runtime context built once per task or command
(``runtime.py``), row filters, file digests and errors. It imports nothing of the project above it.
"""

__version__ = "0.1.0"
