"""The work of the platform as plain functions: collect, derive, maintain.

Nothing here imports Airflow: a DAG task, the ``govlake`` command and a test call the same
functions with plain values (a conf folder, a dataset reference, a run id).
"""
