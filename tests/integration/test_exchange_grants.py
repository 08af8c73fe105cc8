"""Subscriptions deliver only under a share grant in force: to sshd (files) and PostgreSQL (table).

The tax bureau's node receives the platform's ``bronze.rows`` by SFTP and into its PostgreSQL
database. Without a grant each delivery is refused, in the ledger and the audit, with nothing
written at the target; with one it carries the granted columns, the grant's rows and the
sensitive column masked; once revoked, the next delivery is refused again. A dataset that is
not shared cannot even be declared as such a flow.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa
from airflow.sdk.exceptions import AirflowSkipException
from typer.testing import CliRunner

from apps.cli.main import app
from apps.tasks import deliver_subscription
from catalog.sharing import applications as chain
from catalog.sharing.subscriptions import terms_for
from govlake.config.loader import ConfError, load_config
from govlake.lakehouse import Commit
from govlake.principal import Principal
from govlake.runtime import Runtime
from jobs.exchange.ledger import Ledger
from jobs.exchange.receipt import verify
from services import audit
from services.identity import authentication
from services.identity.stewards import import_stewards
from tests.conftest import TEST_ADMIN_PASSWORD, TEST_PASSWORD
from tests.integration.exchange_grants import grant_subscription, publish
from tests.integration.test_exchange import SOURCE
from tests.sshd import SshServer

pytestmark = pytest.mark.integration

DEPARTMENTS = """\
departments:
  - {code: platform, name: 大数据管理中心, stewards: [li.na]}
  - {code: tax, name: 税务局, stewards: [liu.yang]}
"""
NODES = """\
nodes:
  - name: tax_node
    department: tax
    title: 税务局节点
    endpoints:
      - {{name: inbox, kind: files, conn_id: tax_files, folder: "{folder}"}}
      - {{name: db, kind: database, conn_id: tax_db, database_schema: {schema}}}
"""
CATALOG = """\
platform_department: platform
sensitive_columns:
  - {pattern: party, label: 自然人姓名, mask: name}
"""
SUBSCRIPTIONS = """\
subscriptions:
  - {name: to_files, title: 文件订阅, dataset: bronze.rows, node: tax_node, endpoint: inbox,
     file: {format: csv}}
  - {name: to_table, title: 库表推送, dataset: bronze.rows, node: tax_node, endpoint: db,
     table: rows}
"""


def _rows() -> pa.Table:
    ids = list(range(10))
    return pa.table({
        "id": pa.array(ids, pa.int64()),
        "name": [f"企业{i}有限公司" for i in ids],
        "party": [f"张三{i}" for i in ids],
        "region": ["370102" if i % 2 else "370103" for i in ids],
        "amount": pa.array(ids, pa.int64()),
    })  # fmt: skip


@pytest.fixture
def tax_exchange(
    source_conf: Callable[..., Path],
    sftp_server: SshServer,
    postgres_schema: tuple[sa.Engine, str],
    monkeypatch: pytest.MonkeyPatch,
    sign_in: Callable[..., Principal],
    services_ready: Callable[[Path], None],
) -> tuple[Path, dict[str, Runtime]]:
    """The conf, ``bronze.rows`` written and published, the node approved; the people by name."""
    engine, schema = postgres_schema
    conf = source_conf("rows", SOURCE)
    (conf / "departments.yaml").write_text(DEPARTMENTS, encoding="utf-8")
    (conf / "catalog.yaml").write_text(CATALOG, encoding="utf-8")
    (conf / "exchange").mkdir()
    nodes = NODES.format(folder=sftp_server.drop, schema=schema)
    (conf / "exchange" / "nodes.yaml").write_text(nodes, encoding="utf-8")
    (conf / "exchange" / "subscriptions.yaml").write_text(SUBSCRIPTIONS, encoding="utf-8")
    monkeypatch.setenv("AIRFLOW_CONN_TAX_FILES", sftp_server.connection(key=True))
    monkeypatch.setenv("AIRFLOW_CONN_TAX_DB", engine.url.render_as_string(hide_password=False))
    rt = Runtime.load(conf)
    rt.lake.write("bronze.rows", _rows(), Commit("test", "r", "b1", "test"), mode="append")
    services_ready(conf)
    for name, org, roles in (("li.na", "platform", ()), ("liu.yang", "tax", ()),
                             ("tax.analyst", "tax", ("analyst",))):  # fmt: skip
        sign_in(conf, name, *roles, org=org, token=False)
    sign_in(conf, "operator", "exchange_operator", org="tax")  # logged in, as govlake login does
    admin = rt.acting_as(authentication.login(rt, "admin", TEST_ADMIN_PASSWORD).principal)
    import_stewards(admin)
    people = {
        name: rt.acting_as(authentication.login(rt, name, TEST_PASSWORD).principal)
        for name in ("li.na", "liu.yang", "tax.analyst", "operator")
    }
    from apps.guarded import set_node_status

    set_node_status(people["operator"], "tax_node", "approved", "joined")
    publish({"platform": people["li.na"], "tax": people["liu.yang"]}, ["bronze.rows"])
    return conf, people


def _stewards(people: dict[str, Runtime]) -> dict[str, Runtime]:
    return {"platform": people["li.na"], "tax": people["liu.yang"]}


def test_no_grant_refused_then_granted_columns_rows_and_masks_then_revoked(
    tax_exchange: tuple[Path, dict[str, Runtime]],
    sftp_server: SshServer,
    postgres_schema: tuple[sa.Engine, str],
) -> None:
    conf, people = tax_exchange
    engine, schema = postgres_schema
    ledger = Ledger(people["operator"].platform_db)
    refused_cli = CliRunner().invoke(app, ["exchange", "deliver", "to_files", "--conf", str(conf)])
    assert refused_cli.exit_code == 1
    assert "to_files: nothing sent (to_files@full-0): subscription to_files:" in refused_cli.output
    assert _standings(conf) == {"to_files": ("none", None), "to_table": ("none", None)}
    for name, mode in (("to_files", "subscription"), ("to_table", "table")):
        with pytest.raises(AirflowSkipException, match=f"subscription {name}: tax holds no"):
            deliver_subscription(str(conf), name)
        row = ledger.attempts(name)[-1]
        assert row.status == "refused" and row.grant_id is None
        assert row.error is not None and "\n" not in row.error
        assert f"subscription {name}: tax holds no grant in force on bronze.rows" in row.error
        assert f"--mode {mode} " in row.error and "govlake apply GL-" in row.error
    assert [p.name for p in sftp_server.drop.iterdir()] == [], "nothing written at the target"
    assert not sa.inspect(engine).has_table("rows", schema=schema)
    refused = audit.events(people["operator"], action="exchange.deliver", outcome="refused")
    assert {e.object for e in refused} == {"subscription:to_files", "subscription:to_table"}

    analyst, stewards = people["tax.analyst"], _stewards(people)
    two = chain.Grant(columns=["id", "party"], row_filter="amount >= 6")
    files = grant_subscription(analyst, stewards, "to_files", two)
    odd = chain.Grant(columns=["id", "name"], row_filter="region = '370102'")
    table = grant_subscription(analyst, stewards, "to_table", odd)
    assert deliver_subscription(str(conf), "to_files")["status"] == "delivered"
    delivered = sftp_server.drop / "to_files__v0.csv"
    read = list(csv.reader(io.StringIO(delivered.read_text(encoding="utf-8"))))
    assert read[0] == ["id", "party"], "exactly the granted columns"
    assert [r[0] for r in read[1:]] == ["6", "7", "8", "9"], "the grant's row filter"
    assert [r[1] for r in read[1:]] == ["张**", "张**", "张**", "张**"], "party masked as a name"
    manifest = json.loads((sftp_server.drop / "to_files__v0.csv.manifest.json").read_text())
    assert [c["name"] for c in manifest["columns"]] == ["id", "party"]
    assert (manifest["grant"], manifest["masked"]) == (files.id, ["party"])
    assert verify(sftp_server.drop) == []
    assert ledger.attempts("to_files")[-1].grant_id == files.id
    assert deliver_subscription(str(conf), "to_table")["status"] == "delivered"
    with engine.connect() as db:
        got = db.execute(sa.text(f"SELECT * FROM {schema}.rows ORDER BY id")).all()
        columns = [c["name"] for c in sa.inspect(engine).get_columns("rows", schema=schema)]
    assert columns == ["id", "name"] and [r.id for r in got] == [1, 3, 5, 7, 9]
    success = audit.events(people["operator"], action="exchange.deliver", outcome="success")
    assert {(e.object, e.details["grant"]) for e in success} == {
        ("subscription:to_files", files.id), ("subscription:to_table", table.id)
    }  # fmt: skip

    assert _standings(conf) == {"to_files": ("in force", files.id),
                                "to_table": ("in force", table.id)}  # fmt: skip

    chain.act(people["li.na"], files.application, "revoke", "用途变更")
    rt = people["operator"]
    rt.lake.write("bronze.rows", _rows().slice(0, 1), Commit("test", "r", "b2", "test"),
                  mode="append")  # fmt: skip
    with pytest.raises(AirflowSkipException, match="revoked"):
        deliver_subscription(str(conf), "to_files")
    last = ledger.attempts("to_files")[-1]
    assert (last.status, last.batch_id) == ("refused", "to_files@full-1")
    assert (
        last.error is not None
        and f"bronze.rows (GL-000001) by subscription (grant {files.id} revoked)" in last.error
    )
    assert not (sftp_server.drop / "to_files__v1.csv").exists()
    resent = CliRunner().invoke(app, ["exchange", "resend", "to_files", "--conf", str(conf)])
    assert resent.exit_code == 1 and "revoked" in resent.output, "not even a past batch again"
    assert _standings(conf)["to_files"] == ("revoked", files.id)


def _standings(conf: Path) -> dict[str, tuple[str, int | None]]:
    """``govlake exchange subscriptions``: each subscription's standing and grant."""
    shown = CliRunner().invoke(app, ["exchange", "subscriptions", "--format", "json", "--conf",
                                     str(conf)])  # fmt: skip
    assert shown.exit_code == 0, shown.output
    return {r["subscription"]: (r["standing"], r["grant"]) for r in json.loads(shown.output)}


def test_a_table_push_needs_its_keys_granted(
    tax_exchange: tuple[Path, dict[str, Runtime]], postgres_schema: tuple[sa.Engine, str]
) -> None:
    conf, people = tax_exchange
    engine, schema = postgres_schema
    grant = grant_subscription(people["tax.analyst"], _stewards(people), "to_table",
                               chain.Grant(columns=["name", "amount"]))  # fmt: skip
    with pytest.raises(AirflowSkipException, match="a table push upserts by id"):
        deliver_subscription(str(conf), "to_table")
    (row,) = Ledger(people["operator"].platform_db).attempts("to_table")
    assert row.grant_id == grant.id and "a table push upserts by id" in (row.error or "")
    assert not sa.inspect(engine).has_table("rows", schema=schema)
    ended = terms_for(people["operator"], "to_table", grant.valid_until)  # its period is over
    assert ended.grant is None and f"(grant {grant.id} expired)" in (ended.refused or "")


def test_a_not_shared_dataset_cannot_be_a_flow_to_another_department(
    tax_exchange: tuple[Path, dict[str, Runtime]],
) -> None:
    conf, _ = tax_exchange
    datasets = conf / "datasets" / "rows.yaml"
    text = datasets.read_text(encoding="utf-8")
    datasets.write_text(text.replace("owner: platform", "owner: platform\n    "
                                     "classification: restricted"), encoding="utf-8")  # fmt: skip
    with pytest.raises(ConfError) as refused:
        load_config(conf)
    problems = str(refused.value)
    assert "subscriptions.yaml:2: subscriptions.0.dataset: bronze.rows is not shared" in problems
    assert "subscriptions.yaml:4: subscriptions.1.dataset: bronze.rows is not shared" in problems
    checked = CliRunner().invoke(app, ["conf", "check", str(conf)])
    assert checked.exit_code == 1 and "is not shared (sharing: not_shared" in checked.output
