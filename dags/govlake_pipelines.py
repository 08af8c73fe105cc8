"""Airflow DAGs for every pipeline declared in ``conf/pipelines``, built by apps.dag_factory.

Set ``GOVLAKE_CONF`` to use another conf folder than the one beside this file.
"""

import os
from pathlib import Path

from apps.dag_factory import build_dags

CONF_DIR = os.environ.get("GOVLAKE_CONF") or Path(__file__).resolve().parent.parent / "conf"

for _dag in build_dags(CONF_DIR, fileloc=__file__):
    globals()[_dag.dag_id] = _dag
