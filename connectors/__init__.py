"""Talking to the outside world: each module one protocol, reading to or writing from Arrow batches.

Connectors never import Airflow; :mod:`govlake.connections` turns an Airflow Connection
(as the ``AIRFLOW_CONN_<ID>`` environment variable Airflow itself reads) into their typed config.
"""
