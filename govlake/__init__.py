"""govlake: the data backbone of a government application collaboration platform.

The core package holds only what every layer shares: typed configuration, lakehouse I/O,
the DAG factory and the command line. Collection lives in ``connectors``, the work in ``jobs``.
"""

__version__ = "0.1.0"
