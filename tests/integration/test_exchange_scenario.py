"""The scenario's three flows, as their DAG tasks run them, to real servers on loopback.

Each receiving department first holds a grant for its flow, applied for and authorised through
the workflow; human resources' grant does not give the party's name in clear.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
import sqlalchemy as sa

from apps.guarded import set_node_status
from apps.local_servers import FtpServer
from apps.tasks import deliver_subscription
from govlake.config.loader import load_config
from govlake.lakehouse import Lakehouse
from govlake.platform_db.database import open_platform_db
from govlake.principal import Principal
from govlake.runtime import Runtime
from jobs.exchange.ledger import Ledger
from jobs.exchange.receipt import verify
from jobs.runner import run_pipeline
from services.identity import authentication
from services.identity.stewards import import_stewards
from tests.conftest import TEST_ADMIN_PASSWORD, TEST_PASSWORD, collect_scenario, refining_pipelines
from tests.integration.exchange_grants import grant_subscription, publish
from tests.sshd import SshServer

pytestmark = pytest.mark.integration


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_tax_sftp_credit_postgres_and_hr_ftp(
    full_conf_dir: Path,
    sftp_server: SshServer,
    ftp_server: FtpServer,
    postgres_schema: tuple[sa.Engine, str],
    monkeypatch: pytest.MonkeyPatch,
    sign_in: Callable[..., Principal],
    services_ready: Callable[[Path], None],
) -> None:
    conf = full_conf_dir
    for datasets in (conf / "datasets").glob("*.yaml"):  # Arrow keeps this test quick
        text = datasets.read_text(encoding="utf-8")
        datasets.write_text(text.replace("engine: spark", "engine: arrow"), encoding="utf-8")
    collect_scenario(conf, 300)
    project = load_config(conf)
    for name in refining_pipelines(conf):
        run_pipeline(Runtime(project), name)

    engine, schema = postgres_schema
    nodes = conf / "exchange" / "nodes.yaml"
    _edit(
        nodes,
        "tax_bureau\n        folder: /inbox",
        f"tax_bureau\n        folder: {sftp_server.drop}",
    )
    _edit(nodes, "credit_platform.db", f"credit_platform.db\n        database_schema: {schema}")
    ftp_root = ftp_server.root
    (ftp_root / "inbox").mkdir()
    monkeypatch.setenv("AIRFLOW_CONN_TAX_SFTP", sftp_server.connection(key=True))
    monkeypatch.setenv("AIRFLOW_CONN_HR_EXCHANGE_FTP", ftp_server.url)
    monkeypatch.setenv(
        "AIRFLOW_CONN_CREDIT_PLATFORM_DB", engine.url.render_as_string(hide_password=False)
    )
    project = load_config(conf)
    services_ready(conf)  # the exchange DAGs' tasks act as the nodes' services
    admin = Runtime(project).acting_as(sign_in(conf, "admin", token=False))
    for node in project.nodes:
        set_node_status(admin, node, "approved", "joined the platform")
    _grants(conf, project.subscriptions, sign_in)
    results = {name: deliver_subscription(str(conf), name) for name in project.subscriptions}

    lake = Lakehouse(project.lakehouse)
    profiles = lake.describe("gold.enterprise_credit_profile").rows
    notices = lake.describe("silver.penalty_notices").rows
    assert {r["status"] for r in results.values()} == {"delivered"}
    tax = sftp_server.drop / "credit_profile_to_tax__v0.csv"
    assert len(tax.read_bytes().decode("gbk").splitlines()) == profiles + 1
    assert verify(sftp_server.drop) == []
    with engine.connect() as db:
        pushed = db.scalar(sa.text(f"SELECT count(*) FROM {schema}.enterprise_credit_profile"))
    assert pushed == profiles
    hr = ftp_root / "inbox" / "penalty_notices_to_hr__v0.jsonl"
    first = json.loads(hr.read_text(encoding="utf-8").splitlines()[0])
    assert set(first) == {"decision_number", "uscc", "party", "violation", "fine_yuan",
                          "decided_on", "authority"}  # fmt: skip
    assert first["party"][1:] == "*" * (len(first["party"]) - 1), "masked as a name"
    assert verify(ftp_root / "inbox") == []
    report = Ledger(open_platform_db(project)).report()
    assert {(r.node, r.delivered) for r in report} == {
        ("tax_bureau", 1), ("credit_platform", 1), ("human_resources", 1)
    }  # fmt: skip
    assert sum(r.rows for r in report) == 2 * profiles + notices
    ledger = Ledger(open_platform_db(project))
    actors = {(s.node, a.actor) for s in project.subscriptions.values()
              for a in ledger.attempts(s.name)}  # fmt: skip
    assert actors == {(node, f"node.{node}") for node in project.nodes}, "each as its node"


def _grants(conf: Path, subscriptions: Iterable[str], sign_in: Callable[..., Principal]) -> None:
    """Publish the flows' datasets; each receiving department's analyst applies for its flow."""
    rt = Runtime.load(conf)
    stewards = {"platform": "li.na", "market_regulation": "zhang.wei"}
    receivers = {"tax": "tax.analyst", "credit_center": "credit_center.analyst",
                 "human_resources": "human_resources.analyst"}  # fmt: skip
    for org, name in stewards.items():
        sign_in(conf, name, org=org, token=False)
    for org, name in receivers.items():
        sign_in(conf, name, "analyst", org=org, token=False)
    import_stewards(rt.acting_as(authentication.login(rt, "admin", TEST_ADMIN_PASSWORD).principal))

    def as_(name: str) -> Runtime:
        return rt.acting_as(authentication.login(rt, name, TEST_PASSWORD).principal)

    acting = {org: as_(name) for org, name in stewards.items()}
    publish(acting, sorted({rt.config.subscription(s).dataset for s in subscriptions}))
    for name in subscriptions:
        department = rt.config.node(rt.config.subscription(name).node).department
        grant_subscription(as_(receivers[department]), acting, name)
