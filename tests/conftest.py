"""Shared fixtures. Every test carries exactly one tier marker: unit, integration, e2e, cluster.

Airflow reads its settings when first imported, so a throwaway AIRFLOW_HOME is set here,
before any test module imports it.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="govlake-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
    }
)

REPO = Path(__file__).resolve().parent.parent
TIERS = ("unit", "integration", "e2e", "cluster")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse tests without exactly one tier marker."""
    for item in items:
        tiers = [m.name for m in item.iter_markers() if m.name in TIERS]
        if len(tiers) != 1:
            raise pytest.UsageError(f"{item.nodeid}: needs exactly one of {TIERS}, has {tiers}")


@pytest.fixture(autouse=True)
def audit_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh audit chain key for every test: identity and the catalog record as they act."""
    key = secrets.token_urlsafe(32)
    monkeypatch.setenv("GOVLAKE_AUDIT_KEY", key)
    monkeypatch.delenv("AIRFLOW_CONN_GOVLAKE_AUDIT", raising=False)
    return key


def pytest_sessionfinish() -> None:
    if "jobs.spark.session" in sys.modules:  # close py4j while pytest's streams are open
        sys.modules["jobs.spark.session"].stop_sessions()
    # py4j logs again when its last connections are collected at exit, to a closed stream.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


# The shipped conf files of the departments that need a server (FTP drop, website).
SERVED_SCENARIO = [
    "sources/social_insurance_drop.yaml",
    "sources/penalty_notices_site.yaml",
    "datasets/social_insurance.yaml",
    "datasets/penalty_notices.yaml",
    "datasets/credit_profile.yaml",
    "pipelines/social_insurance_ingest.yaml",
    "pipelines/social_insurance_refine.yaml",
    "pipelines/penalty_notices_crawl.yaml",
    "pipelines/penalty_notices_refine.yaml",
    "pipelines/credit_profile_publish.yaml",
    "exchange/subscriptions.yaml",
]


@pytest.fixture
def full_conf_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the project's conf/, with GOVLAKE_HOME in the test's temp folder."""
    target = tmp_path / "conf"
    shutil.copytree(REPO / "conf", target)
    monkeypatch.setenv("GOVLAKE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GOVLAKE_EXPECTATIONS", str(REPO / "expectations"))
    monkeypatch.delenv("GOVLAKE_CONF", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_MARKET_REGISTRY_DB", raising=False)
    return target


@pytest.fixture
def conf_dir(full_conf_dir: Path) -> Path:
    """The shipped conf with the registry's pipelines only (no FTP or web server needed)."""
    for name in SERVED_SCENARIO:
        (full_conf_dir / name).unlink()
    return full_conf_dir


@pytest.fixture
def project(conf_dir: Path):  # noqa: ANN201
    from govlake.config.loader import load_config

    return load_config(conf_dir)


@pytest.fixture
def registry_db(project) -> Path:  # noqa: ANN001
    """The demo's SQLite registry, seeded small."""
    from apps.demo import source_path
    from subjects.enterprise_registry.seed import seed

    path = source_path(project)
    seed(path, rows=300, seed_value=7)
    return path


def collect_scenario(conf_dir: Path, rows: int) -> None:
    """Seed the three departments and collect every source into bronze (servers on loopback)."""
    from apps.demo import REGISTRY_SEED, department_servers, seed_departments
    from govlake.config.loader import load_config
    from govlake.runtime import Runtime
    from jobs.runner import run_pipeline
    from subjects.enterprise_registry.seed import seed

    project = load_config(conf_dir)
    seed(project.home / "sources" / "market_registry.db", rows=rows, seed_value=REGISTRY_SEED)
    seed_departments(project.home / "sources", rows)
    with department_servers(project, lambda _: None):
        # The conf names the servers' addresses through variables they have just set.
        rt = Runtime.load(conf_dir)
        for pipeline in rt.config.pipeline_order():
            if all(rt.config.dataset(ref).zone == "bronze" for ref in pipeline.builds):
                run_pipeline(rt, pipeline.name)


def derived_tables(conf_dir: Path) -> dict[str, list[str]]:
    """Every silver and gold table and quarantine, as sorted rows without lineage columns."""
    from govlake.config.loader import load_config
    from govlake.lakehouse import LINEAGE_COLUMNS, Lakehouse

    project = load_config(conf_dir)
    lake = Lakehouse(project.lakehouse)
    found = {}
    for ref in lake.existing(d.ref for d in project.datasets.values() if d.zone != "bronze"):
        table = lake.read(ref)
        table = table.drop_columns(
            [c for c in (*LINEAGE_COLUMNS, "_stage") if c in table.column_names]
        )
        found[ref] = sorted(map(str, table.to_pylist()))
    return found


def refining_pipelines(conf_dir: Path) -> list[str]:
    """The pipelines that build silver and gold, producers first."""
    from govlake.config.loader import load_config

    project = load_config(conf_dir)
    return [
        p.name
        for p in project.pipeline_order()
        if not any(project.dataset(ref).zone == "bronze" for ref in p.builds)
    ]


TEST_PASSWORD = "Correct-Horse-Battery-42"
TEST_ADMIN_PASSWORD = "Platform-Chief-2030"
TEST_TOKEN_KEY = "a-token-signing-key-for-the-tests-only-0123456789"


@pytest.fixture
def sign_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """``sign_in(conf, username, *roles, org=None, token=True)``: that user, logged in.

    The first call makes the platform administrator ``admin``; each user is added by it (of
    ``org``, default the platform department) with ``roles`` over their organisation, and its
    token saved as ``govlake login`` saves it (``token=False``: only added). Returns the
    user's principal.
    """
    from apps.cli import token_file
    from govlake.principal import Principal
    from govlake.runtime import Runtime
    from services.identity import accounts, authentication, delegation, user_admin
    from services.identity.user_admin import NewAccount

    monkeypatch.setenv("GOVLAKE_TOKEN_KEY", TEST_TOKEN_KEY)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))

    admins: dict[Path, Principal] = {}

    def login(
        conf: Path, username: str, *roles: str, org: str | None = None, token: bool = True
    ) -> Principal:
        rt = Runtime.load(conf)
        organisation = org or rt.config.catalog.platform_department
        if conf not in admins:
            if not user_admin.bootstrapped(rt):
                admin = NewAccount("admin", "admin", organisation, password=TEST_ADMIN_PASSWORD)
                user_admin.bootstrap(rt, admin)
            admins[conf] = authentication.login(rt, "admin", TEST_ADMIN_PASSWORD).principal
        admin_rt = rt.acting_as(admins[conf])
        with rt.platform_db.connect() as conn:
            exists = accounts.find(conn, username) is not None
        if username != "admin" and not exists:
            new = NewAccount(username, username, organisation, password=TEST_PASSWORD)
            user_admin.add_user(admin_rt, new)
            for role in roles:
                delegation.assign_role(admin_rt, username, role)
        if not token:
            with rt.platform_db.connect() as conn:
                return accounts.principal(conn, accounts.existing(conn, username))
        password = TEST_ADMIN_PASSWORD if username == "admin" else TEST_PASSWORD
        session = authentication.login(rt, username, password)
        token_file.save(session.token)
        return session.principal

    return login


@pytest.fixture
def services_ready(sign_in):  # noqa: ANN001, ANN201
    """``services_ready(conf)``: the pipelines' and nodes' service principals, as conf implies."""
    from govlake.runtime import Runtime
    from services.identity import authentication
    from services.identity.service_accounts import sync

    def make(conf: Path) -> None:
        sign_in(conf, "admin")
        rt = Runtime.load(conf)
        sync(rt.acting_as(authentication.login(rt, "admin", TEST_ADMIN_PASSWORD).principal))

    return make


@pytest.fixture(autouse=True)
def _umask_restored() -> Iterator[None]:
    """Each govlake command run in this process sets the owner-only umask; undo it after."""
    before = os.umask(0o022)
    os.umask(before)
    yield
    os.umask(before)


@pytest.fixture(autouse=True)
def _debug_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """``govlake --debug`` run in this process sets GOVLAKE_DEBUG; no later test inherits it."""
    monkeypatch.delenv("GOVLAKE_DEBUG", raising=False)
