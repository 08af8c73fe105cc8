"""The deployment files, checked statically: they must stay consistent with the project."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.unit
DOCKER = REPO / "docker"


@pytest.fixture(scope="module")
def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_every_dependency_is_a_service(compose: dict) -> None:  # type: ignore[type-arg]
    services = compose["services"]
    for name, service in services.items():
        for upstream in service.get("depends_on") or []:
            assert upstream in services, f"{name} depends on unknown {upstream}"


def test_airflow_and_spark_share_the_lakehouse(compose: dict) -> None:  # type: ignore[type-arg]
    services = compose["services"]
    for name in ("airflow-scheduler", "airflow-apiserver", "spark-worker"):
        assert "lakehouse:/data" in services[name]["volumes"], name
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://")
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"


def test_no_secret_is_inline() -> None:
    text = (DOCKER / "compose.yaml").read_text()
    assert not re.search(r"PASSWORD:\s*[^$\s]", text)
    assert "${POSTGRES_PASSWORD}" in text


def test_dockerfile_copies_what_exists_and_installs_from_the_lock() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert "uv sync --frozen --no-dev" in dockerfile
    for source in re.findall(r"^COPY (\S+) \./", dockerfile, flags=re.MULTILINE):
        assert (REPO / source).exists(), source


def test_the_image_holds_every_floor_the_dags_and_the_suites() -> None:
    import tomllib

    dockerfile = (DOCKER / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\S+) \./", dockerfile, flags=re.MULTILINE))
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    missing = {*packages, "dags", "conf", "expectations"} - copied
    assert not missing, f"the image lacks {sorted(missing)}"
