"""The work of the platform as plain functions: collect, derive, maintain.

Nothing here imports Airflow: a DAG task, the ``govlake`` command and a test call the same
functions with the :class:`~govlake.runtime.Runtime` their entry point built and plain values
(a dataset reference, a run id).
"""
