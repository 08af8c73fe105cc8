"""Talking to the outside world: each module one protocol, reading to or writing from Arrow batches.

Connectors never import Airflow, load conf or touch the lakehouse; :mod:`govlake.connections`
turns an Airflow Connection (through Airflow inside a task, else the ``AIRFLOW_CONN_<ID>``
variable) into the typed endpoint or URL they take.
"""
