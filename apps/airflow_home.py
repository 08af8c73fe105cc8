"""A project-local Airflow home: the same settings for the demo, the tests and the UI.

Airflow reads its configuration when it is first imported, so :func:`activate` must run before
anything imports ``airflow``. The metadata database is SQLite inside the home; for a shared
deployment point ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` at PostgreSQL instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from govlake.errors import GovlakeError


def airflow_environment(home: Path, conf_dir: Path) -> dict[str, str]:
    """Environment variables that point Airflow at govlake's DAGs, conf and home."""
    airflow_home = home / "airflow"
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder(conf_dir)),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "GOVLAKE_HOME": str(home),
        "GOVLAKE_CONF": str(conf_dir),
    }


def dags_folder(conf_dir: Path) -> Path:
    """``$GOVLAKE_DAGS``, else the ``dags`` folder beside the conf folder."""
    return Path(os.environ.get("GOVLAKE_DAGS") or conf_dir.parent / "dags").resolve()


def activate(home: Path, conf_dir: Path) -> Path:
    """Set the environment for this process and create or upgrade the metadata database."""
    if "airflow" in sys.modules:
        raise GovlakeError("internal: Airflow was imported before its home was set")
    environment = airflow_environment(home, conf_dir)
    os.environ.update(environment)
    airflow_home = Path(environment["AIRFLOW_HOME"])
    airflow_home.mkdir(parents=True, exist_ok=True)
    marker = airflow_home / f".migrated-{version('apache-airflow-core')}"
    if marker.exists():
        return airflow_home
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise GovlakeError("airflow db migrate failed:\n" + "\n".join(tail))
    marker.touch()
    return airflow_home
