"""The floors of docs/adr/0011-layers.md hold, and the import contracts do catch a break.

Each case copies the packages to a temporary folder, plants one bad import, and runs
``lint-imports`` there with the project's own contracts.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.unit
PACKAGES = ("govlake", "connectors", "jobs", "services", "catalog", "subjects", "apps")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    return tmp_path


def _plant(root: Path, module: str, line: str) -> None:
    path = root / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def test_the_shipped_tree_keeps_every_contract(copy: Path) -> None:
    done = _lint(copy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 kept, 0 broken" in done.stdout


def test_an_upward_import_breaks_the_floors(copy: Path) -> None:
    _plant(copy, "govlake/lakehouse.py", "import jobs.runner  # noqa")
    done = _lint(copy)
    assert done.returncode == 1
    assert "Floors: entry points > catalog | subjects > services > engine" in done.stdout
    assert "govlake.lakehouse -> jobs.runner" in done.stdout


def test_services_and_subjects_stay_independent(copy: Path) -> None:
    _plant(copy, "catalog/generate.py", "import subjects.enterprise_registry.transform  # noqa")
    done = _lint(copy)
    assert done.returncode == 1
    assert "catalog.generate -> subjects.enterprise_registry.transform" in done.stdout


def test_a_cycle_between_siblings_breaks_the_build(copy: Path) -> None:
    _plant(copy, "jobs/transform.py", "import jobs.derive  # noqa")
    done = _lint(copy)
    assert done.returncode == 1
    assert "No cycles are allowed in jobs" in done.stdout


def test_a_connector_that_writes_the_lakehouse_breaks_the_build(copy: Path) -> None:
    _plant(copy, "connectors/crawl/pipelines.py", "import govlake.lakehouse  # noqa")
    done = _lint(copy)
    assert done.returncode == 1
    assert "connectors.crawl.pipelines -> govlake.lakehouse" in done.stdout


def test_a_job_that_loads_conf_itself_breaks_the_build(copy: Path) -> None:
    _plant(copy, "jobs/maintenance.py", "from govlake.config.loader import load_config  # noqa")
    done = _lint(copy)
    assert done.returncode == 1
    assert "jobs.maintenance -> govlake.config.loader" in done.stdout
