"""The catalog on the registry scenario: generation, versions, workflow, search, export, API."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jsonschema
import jwt
import pytest
import sqlalchemy as sa
import uvicorn
from typer.testing import CliRunner

from apps.catalog_api import create_app
from apps.cli.main import app
from catalog.build import build_catalog
from catalog.export import catalogue_document, export_schema
from catalog.store import Catalog, Filters
from catalog.workflow import WorkflowError
from govlake.config.loader import load_config
from govlake.config.project import ProjectConfig
from govlake.lakehouse import Lakehouse
from govlake.platform_db.database import head_revision
from govlake.platform_db.schema import audit_event
from govlake.principal import Principal
from govlake.runtime import Runtime
from jobs.quality.results import latest_score
from jobs.runner import run_pipeline
from services import audit
from services.identity import authentication, user_admin
from services.identity.policy import AccessDenied
from services.identity.stewards import import_stewards
from services.identity.user_admin import NewAccount

pytestmark = pytest.mark.integration
BRONZE, SILVER, GOLD = (
    "bronze.enterprise_registry",
    "silver.enterprise_registry",
    "gold.enterprise_directory",
)
# stewards in conf/departments.yaml: of market regulation, the platform, human resources
OWNER, PLATFORM, OTHER = "zhang.wei", "li.na", "wang.fang"
CLERK = "zhao.lei"  # of market regulation, with no role
PEOPLE = {OWNER: "market_regulation", PLATFORM: "platform", OTHER: "human_resources",
          CLERK: "market_regulation"}  # fmt: skip
PASSWORD, ADMIN_PASSWORD = "Correct-Horse-Battery-42", "Platform-Chief-2030"
TOKEN_KEY = "a-token-signing-key-for-the-catalog-tests-0123456789"


@pytest.fixture
def built(conf_dir: Path, registry_db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The registry's three tables built (Arrow engine: Spark is not what is tested here)."""
    for path in (conf_dir / "datasets").glob("*.yaml"):
        path.write_text(path.read_text(encoding="utf-8").replace("engine: spark", "engine: arrow"))
    project = load_config(conf_dir)
    for pipeline in project.pipeline_order():
        run_pipeline(Runtime(project), pipeline.name)
    monkeypatch.setenv("GOVLAKE_TOKEN_KEY", TOKEN_KEY)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(conf_dir.parent / "config"))
    monkeypatch.delenv("GOVLAKE_ADMIN_PASSWORD", raising=False)
    return conf_dir


def _catalog(conf: Path) -> tuple[ProjectConfig, Catalog]:
    config = load_config(conf)
    return config, Catalog(Runtime(config))


def _people(conf: Path) -> dict[str, Principal]:
    """The platform administrator adds the people, the stewards of conf become data stewards;
    each then logs in: the principals of their sessions, by username."""
    rt = Runtime.load(conf)
    admin = user_admin.bootstrap(rt, NewAccount("admin", "admin", "platform",
                                                password=ADMIN_PASSWORD))  # fmt: skip
    for username, organisation in PEOPLE.items():
        new = NewAccount(username, username, organisation, password=PASSWORD)
        user_admin.add_user(rt.acting_as(admin), new)
    import_stewards(rt.acting_as(admin))
    return {
        name: authentication.verify(rt, authentication.login(rt, name, PASSWORD).token)
        for name in PEOPLE
    }


@pytest.fixture
def people(built: Path) -> dict[str, Principal]:
    return _people(built)


@pytest.fixture
def platform_on_postgres(
    postgres_schema: tuple[sa.Engine, str], monkeypatch: pytest.MonkeyPatch
) -> tuple[sa.Engine, str]:
    """The platform DB in a fresh schema of the local PostgreSQL."""
    engine, schema = postgres_schema
    url = engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("AIRFLOW_CONN_GOVLAKE_PLATFORM", f"{url}?options=-csearch_path%3D{schema}")
    return engine, schema


def _publish(catalog: Catalog, people: dict[str, Principal], code: str) -> None:
    catalog.review(code, approve=True, actor=people[OWNER], comment=None, version=None)
    catalog.publish(code, actor=people[PLATFORM])


def test_entries_are_generated_from_metadata(built: Path) -> None:
    config, catalog = _catalog(built)
    report = build_catalog(Runtime(config))
    assert [(r.dataset, r.outcome, r.version) for r in report.registrations] == [
        (BRONZE, "new", 1),
        (GOLD, "new", 1),
        (SILVER, "new", 1),
    ]
    assert report.not_built == [] and report.warnings == []
    lake = Lakehouse(config.lakehouse)
    entry = catalog.resource(SILVER)
    d, state = entry.definition, entry.state
    delta_schema = lake.table(SILVER).schema()
    assert [(c.name, c.nullable) for c in d.columns] == [
        (f.name, f.nullable) for f in delta_schema.fields
    ]
    types = {c.name: c.type for c in d.columns}
    assert types["registered_capital_yuan"] == "decimal(18,2)"
    assert types["established_on"] == "date"
    comments = {c.name: c.comment for c in d.columns}
    assert comments["uscc"].startswith("统一社会信用代码")  # from the data elements
    assert comments["_ingested_at"] == "入湖时间（UTC）"
    assert d.sensitive_columns == ["legal_representative", "address"]
    assert (d.owner, d.owner_name, d.category) == (
        "market_regulation",
        "市场监督管理局",
        "enterprise",
    )
    assert (d.classification, d.sharing.type, d.sharing.open) == (
        "internal",
        "conditional",
        "not_open",
    )
    assert d.keys == ["uscc"]
    # refined when bronze changes, and bronze is collected daily
    assert d.update_cycle.model_dump() == {
        "code": "daily",
        "label": "随上游更新（每日）",
        "schedule": "on_update",
    }
    lineage = state.lineage
    assert lineage.producer_dag == "enterprise_registry_refine"
    assert [s.model_dump() for s in lineage.sources] == [
        {"name": "market_registry", "stream": "enterprise", "kind": "database",
         "owner": "market_regulation", "bronze": BRONZE}
    ]  # fmt: skip
    assert (lineage.upstream, lineage.downstream) == ([BRONZE], [GOLD])
    assert state.rows == lake.read(SILVER).num_rows
    assert state.delta_version == lake.version(SILVER)
    assert state.quality_score == round(latest_score(lake, SILVER) or -1, 2)
    assert state.quality_score == 100.0  # seeded data is current: the freshness check holds
    assert state.freshness == "fresh"
    assert catalog.resource(BRONZE).definition.update_cycle.code == "daily"

    again = build_catalog(Runtime(config))
    assert {r.outcome for r in again.registrations} == {"unchanged"}
    assert [v.version for v in catalog.versions(SILVER)] == [1]


def test_a_new_source_column_makes_a_new_version_to_review(
    built: Path, people: dict[str, Principal]
) -> None:
    config, catalog = _catalog(built)
    build_catalog(Runtime(config))
    code = catalog.resource(BRONZE).code
    _publish(catalog, people, code)

    registry = sqlite3.connect(config.home / "sources" / "market_registry.db")
    with registry:
        registry.execute("ALTER TABLE enterprise ADD COLUMN contact_phone TEXT")
        registry.execute(
            "UPDATE enterprise SET contact_phone = '13800000000', updated_at = '2031-01-01' "
            "WHERE rowid <= 3"
        )
    registry.close()
    run_pipeline(Runtime(config), "market_registry_ingest")
    (change,) = [r for r in build_catalog(Runtime(config)).registrations if r.outcome == "changed"]
    assert (change.code, change.version, change.status) == (code, 2, "registered")

    first, second = catalog.versions(code)
    assert second.diff["columns"] == {"added": ["contact_phone"], "removed": [], "changed": {}}
    assert second.diff["fields"] == {
        "sensitive_columns": {
            "from": ["legal_representative", "address"],
            "to": ["legal_representative", "address", "contact_phone"],
        }
    }
    # readers keep seeing the published version until the new one is reviewed and published
    (shown,) = catalog.entries(Filters(published_only=True), codes=[code])
    assert (shown.version, shown.status) == (1, "published")
    catalog.review(code, approve=True, actor=people[OWNER], comment="新增联系电话", version=None)
    catalog.publish(code, actor=people[PLATFORM])
    assert [v.status for v in catalog.versions(code)] == ["superseded", "published"]
    assert catalog.resource(code).published_version == 2
    actions = [(e.version, e.action, e.to_status) for e in catalog.events(code)]
    assert actions == [
        (1, "register", "registered"),
        (1, "approve", "approved"),
        (1, "publish", "published"),
        (2, "register", "registered"),
        (2, "approve", "approved"),
        (1, "supersede", "superseded"),
        (2, "publish", "published"),
    ]


def _refused(rt: Runtime, catalog: Catalog, code: str, attempt: Callable[[], object],
             match: str) -> None:  # fmt: skip
    """``attempt`` is refused with ``match``, audited as refused, and changes nothing."""
    before = (catalog.events(code), catalog.versions(code))
    head = max((e.id for e in audit.events(rt, limit=1)), default=0)
    with pytest.raises((AccessDenied, WorkflowError), match=match):
        attempt()
    assert (catalog.events(code), catalog.versions(code)) == before
    rows = [e for e in audit.events(rt, limit=10) if e.id > head]
    assert rows and all(e.outcome == "refused" for e in rows)
    assert rows[0].action.startswith("catalog.") and rows[0].object == code


def test_workflow_refuses_what_the_standard_forbids(
    built: Path, people: dict[str, Principal]
) -> None:
    config, catalog = _catalog(built)
    rt = catalog.rt
    owner, platform, other, clerk = (people[n] for n in (OWNER, PLATFORM, OTHER, CLERK))
    build_catalog(Runtime(config))
    code = catalog.resource(GOLD).code
    refusals: list[tuple[Callable[[], object], str]] = [
        (lambda: catalog.publish(code, actor=platform), "is registered: it cannot be published"),
        (lambda: catalog.review(code, approve=True, actor=other, comment=None, version=None),
         f"wang.fang may not review catalog:{code}"),
        (lambda: catalog.review(code, approve=True, actor=platform, comment=None, version=None),
         f"li.na may not review catalog:{code}"),
        (lambda: catalog.review(code, approve=True, actor=clerk, comment=None, version=None),
         f"zhao.lei may not review catalog:{code}: no role"),
        (lambda: catalog.review(code, approve=False, actor=owner, comment=" ", version=None),
         "needs a comment"),
        (lambda: catalog.unpublish(code, actor=platform), "GL-000002 has no published version"),
    ]  # fmt: skip
    for attempt, match in refusals:
        _refused(rt, catalog, code, attempt, match)
    assert [e.action for e in catalog.events(code)] == ["register"]  # refusals change nothing
    denied = audit.events(rt, action="access.denied", user=CLERK)[0]
    assert (denied.object, denied.details["verb"]) == (f"catalog:{code}", "review")

    catalog.review(code, approve=True, actor=owner, comment=None, version=None)
    _refused(rt, catalog, code, lambda: catalog.publish(code, actor=owner),
             f"zhang.wei may not publish catalog:{code}")  # fmt: skip
    assert catalog.publish(code, actor=platform) == "published"
    assert catalog.unpublish(code, actor=platform, comment="数据核查") == "unpublished"
    assert catalog.entries(Filters(published_only=True), codes=[code]) == []
    assert catalog.publish(code, actor=platform, version=1) == "published"
    done = [(e.action, e.principal, e.details["step"], e.outcome)
            for e in reversed(audit.events(rt, object=code)) if e.outcome == "success"]  # fmt: skip
    assert done == [
        ("catalog.review", OWNER, "approve", "success"),
        ("catalog.publish", PLATFORM, "publish", "success"),
        ("catalog.unpublish", PLATFORM, "unpublish", "success"),
        ("catalog.publish", PLATFORM, "publish", "success"),
    ]
    assert {e.actor for e in catalog.events(code)} == {"catalog", OWNER, PLATFORM}

    # An ownership change in conf is a new version, reviewed by the new owner's stewards.
    datasets = built / "datasets" / "enterprise_registry.yaml"
    text = datasets.read_text(encoding="utf-8")
    head, _, gold = text.partition("  - zone: gold")
    datasets.write_text(
        head + "  - zone: gold" + gold.replace("owner: market_regulation", "owner: platform")
    )
    config, catalog = _catalog(built)
    build_catalog(Runtime(config), [GOLD])
    (_, second) = catalog.versions(code)
    assert second.diff["fields"]["owner"] == {"from": "market_regulation", "to": "platform"}
    _refused(rt, catalog, code,
             lambda: catalog.review(code, approve=True, actor=owner, comment=None, version=2),
             f"zhang.wei may not review catalog:{code}")  # fmt: skip
    assert (
        catalog.review(code, approve=False, actor=platform, comment="归属待确认", version=2)
        == "rejected"
    )
    _refused(rt, catalog, code, lambda: catalog.publish(code, actor=platform, version=2),
             "is rejected: it cannot be published")  # fmt: skip
    assert catalog.resource(code, published=True).version == 1
    assert audit.verify(rt).ok


def _assert_search(catalog: Catalog) -> None:
    def found(words: str) -> list[str]:
        return [e.dataset for e in catalog.search(words)]

    # a column description (法定代表人 is a data element) in all three
    assert sorted(found("法定代表人")) == [BRONZE, GOLD, SILVER]
    assert found("各部门共享") == [GOLD]  # words of a description
    assert found("去重") == [GOLD]
    assert sorted(found("注册资本 万元")) == [BRONZE, GOLD]  # every word must match
    assert sorted(found("注册资本")) == [BRONZE, GOLD, SILVER]
    assert found("企业名录")[0] == GOLD  # the title ranks first
    assert found("registry")  # column and dataset names too
    assert found("天气预报") == [] and found("，。") == []


def test_search_finds_chinese_words_on_sqlite(built: Path) -> None:
    config, catalog = _catalog(built)
    build_catalog(Runtime(config))
    _assert_search(catalog)


def test_catalog_on_postgresql(built: Path, platform_on_postgres: tuple[sa.Engine, str]) -> None:
    engine, schema = platform_on_postgres
    config, catalog = _catalog(built)
    people = _people(built)
    build_catalog(Runtime(config))
    with engine.connect() as db:
        version = db.scalar(sa.text(f"SELECT version_num FROM {schema}.alembic_version"))
        kind = db.scalar(
            sa.text(
                "SELECT data_type FROM information_schema.columns WHERE table_schema = :s "
                "AND table_name = 'catalog_search' AND column_name = 'document'"
            ),
            {"s": schema},
        )
    assert (version, kind) == (head_revision(), "tsvector")
    _assert_search(catalog)
    _publish(catalog, people, catalog.resource(GOLD).code)
    assert [e.dataset for e in catalog.entries(Filters(published_only=True))] == [GOLD]


def test_export_follows_its_documented_schema(
    built: Path, people: dict[str, Principal], tmp_path: Path
) -> None:
    config, catalog = _catalog(built)
    build_catalog(Runtime(config))
    _publish(catalog, people, catalog.resource(GOLD).code)
    document = catalogue_document(
        catalog.entries(Filters(published_only=True)), published_only=True
    )
    jsonschema.Draft202012Validator(
        export_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(document)
    (record,) = document["resources"]
    assert record["name"] == "企业名录" and record["provider"]["name"] == "市场监督管理局"
    assert (record["sharing"]["name"], record["open"]["name"]) == ("无条件共享", "普遍开放")
    assert record["update_cycle"]["name"] == "随上游更新（每日）"
    assert "_batch_id" not in {item["name"] for item in record["items"]}

    output = tmp_path / "catalogue.json"
    login = ["login", OWNER, "--password-stdin", "--conf", str(built)]
    assert CliRunner().invoke(app, login, input=PASSWORD + "\n").exit_code == 0
    result = CliRunner().invoke(
        app, ["catalog", "export", "--all", "-o", str(output), "--conf", str(built)]
    )
    assert result.exit_code == 0, result.output
    everything = json.loads(output.read_text(encoding="utf-8"))
    jsonschema.validate(everything, export_schema())
    assert [r["dataset"] for r in everything["resources"]] == [BRONZE, GOLD, SILVER]
    bad = {**document, "resources": [{**record, "resource_code": "x"}]}
    with pytest.raises(jsonschema.ValidationError, match="does not match"):
        jsonschema.validate(bad, export_schema())


def test_cli_walks_an_entry_through_review(
    built: Path, people: dict[str, Principal], sign_in: Callable[..., Principal]
) -> None:
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None) -> tuple[int, str]:
        result = runner.invoke(app, [*args, "--conf", str(built)], input=stdin)
        return result.exit_code, result.output

    def govlake(*args: str) -> str:
        code, output = invoke(*args)
        assert code == 0, output
        return output

    def login(username: str) -> None:
        assert invoke("login", username, "--password-stdin", stdin=PASSWORD + "\n")[0] == 0

    code, output = invoke("catalog", "build")
    assert code == 1 and "not logged in: run govlake login" in output
    login(CLERK)
    code, output = invoke("catalog", "build")
    assert code == 1 and "zhao.lei may not build dataset:bronze.enterprise_registry" in output
    sign_in(built, "engineer", "data_engineer", org="market_regulation")
    assert "GL-000002 gold.enterprise_directory: new, version 1, registered" in govlake(
        "catalog", "build"
    )
    code, output = invoke("catalog", "review", "GL-000002", "--approve")
    assert code == 1 and "engineer may not review catalog:GL-000002" in output
    invoke("logout")
    code, output = invoke("catalog", "review", "GL-000002", "--approve")
    assert code == 1 and "not logged in: run govlake login" in output
    code, output = invoke("catalog", "review", "GL-000002", "--approve", "--as", OWNER)
    assert code == 2 and "No such option: --as" in output  # no one claims to be someone
    login(OWNER)
    govlake("catalog", "review", "GL-000002", "--approve")
    login(OTHER)
    code, output = invoke("catalog", "publish", "GL-000002")
    assert code == 1 and "wang.fang may not publish catalog:GL-000002" in output
    login(PLATFORM)
    assert "published" in govlake("catalog", "publish", "GL-000002")
    listed = govlake("catalog", "list", "--status", "published")
    assert "gold.enterprise_directory" in listed and SILVER not in listed
    assert "已发布" in listed and "published" not in listed  # people read the code list's names
    records = json.loads(govlake("catalog", "list", "--status", "published", "-o", "json"))
    assert [(r["dataset"], r["status"]) for r in records] == [("gold.enterprise_directory",
                                                                "published")]  # fmt: skip
    login(CLERK)  # no role: nothing
    assert "gold.enterprise_directory" not in govlake("catalog", "list")
    login(OTHER)  # another department's steward: the published entry only
    listed = govlake("catalog", "list")
    assert "gold.enterprise_directory" in listed and SILVER not in listed
    assert "GL-000001" not in govlake("catalog", "search", "注册资本")
    code, output = invoke("catalog", "show", "GL-000001")
    assert code == 1 and "not published" in output, output
    login(PLATFORM)
    shown = govlake("catalog", "show", "GL-000002")
    assert (
        "registered_capital_10k_yuan" in shown
        and "publish -> published by li.na (platform)" in shown
    )
    assert "GL-000001" in govlake("catalog", "search", "注册资本")
    rt = Runtime.load(built)
    refused = audit.events(rt, action="catalog.publish", outcome="refused")[0]
    assert (refused.principal, refused.object) == (OTHER, "GL-000002")


@pytest.fixture
def api(built: Path, people: dict[str, Principal]) -> Iterator[str]:
    """The catalog API served by uvicorn on a free loopback port."""
    config, catalog = _catalog(built)
    build_catalog(Runtime(config))
    _publish(catalog, people, catalog.resource(GOLD).code)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(Runtime(config)), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def _token(conf: Path, username: str, *, at: datetime | None = None) -> str:
    """A token of ``username``, issued now or ``at``."""
    rt = Runtime.load(conf)
    if at is None:
        return authentication.login(rt, username, PASSWORD).token
    return authentication.login(rt, username, PASSWORD, clock=lambda: at).token


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_api_serves_published_entries(api: str, built: Path) -> None:
    with httpx.Client(base_url=api, headers=_as(_token(built, OWNER))) as client:
        listed = client.get("/resources")
        assert listed.status_code == 200, listed.text
        (directory,) = listed.json()
        assert directory["dataset"] == GOLD
        everything = client.get("/resources", params={"published_only": "false"}).json()
        assert [r["dataset"] for r in everything] == [BRONZE, GOLD, SILVER]
        by_owner = client.get("/resources", params={"department": "platform"}).json()
        assert by_owner == []
        shown = client.get(f"/resources/{directory['resource_code']}").json()
        assert shown["lineage"]["upstream"] == [SILVER, BRONZE]
        assert [h["action"] for h in shown["history"]] == ["register", "approve", "publish"]
        missing = client.get("/resources/GL-000001")
        assert missing.status_code == 404 and "not published" in missing.json()["detail"]
        assert client.get("/resources/GL-999999").status_code == 404
        (hit,) = client.get("/search", params={"q": "注册资本"}).json()
        assert hit["dataset"] == GOLD and hit["rank"] > 0
        assert client.get("/search", params={"q": ""}).status_code == 422
        exported = client.get("/export").json()
        jsonschema.validate(exported, export_schema())
        assert client.get("/openapi.json").json()["info"]["title"] == "govlake data catalog"
    rt = Runtime.load(built)
    served = audit.events(rt, action="api.request", user=OWNER, limit=20)
    assert len(served) == 9  # every request but /openapi.json, which needs no token
    first = served[-1]
    assert (first.object, first.outcome, first.client) == ("/resources", "success", "127.0.0.1")
    assert first.details["route"] == "/resources" and first.details["status"] == 200
    assert first.details["duration_ms"] >= 0
    assert audit.verify(rt).ok


def test_api_refuses_callers_without_a_valid_token(
    api: str, built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = Runtime.load(built)
    admin = rt.acting_as(authentication.login(rt, "admin", ADMIN_PASSWORD).principal)
    owner = _token(built, OWNER)
    forged = jwt.encode(
        jwt.decode(owner, options={"verify_signature": False}),
        "another-key-of-at-least-32-bytes-long!",
        algorithm="HS256",
    )
    yesterday = datetime.now(UTC) - timedelta(hours=9)
    expired = _token(built, OWNER, at=yesterday)
    locked = _token(built, CLERK)
    user_admin.change_status(admin, CLERK, "lock")
    attempts = {
        "no token": ({}, "a bearer token is needed"),
        "not bearer": ({"Authorization": f"Basic {owner}"}, "a bearer token is needed"),
        "forged": (_as(forged), "token refused: its signature does not match"),
        "expired": (_as(expired), "token refused: it expired at"),
        "locked user": (_as(locked), f"token refused: user {CLERK} is locked"),
        "garbage": (_as("not.a.token"), "token refused"),
    }
    head = max(e.id for e in audit.events(rt, limit=1))
    with httpx.Client(base_url=api) as client:
        for name, (headers, reason) in attempts.items():
            refused = client.get("/resources", headers=headers)
            assert refused.status_code == 401, name
            assert refused.headers["www-authenticate"] == "Bearer", name
            assert reason in refused.json()["detail"], name
    logged = [e for e in audit.events(rt, action="api.request", limit=20) if e.id > head]
    assert len(logged) == len(attempts)
    assert {(e.principal, e.outcome, e.details["status"]) for e in logged} == {
        ("anonymous", "refused", 401)
    }
    tokens = [e for e in audit.events(rt, action="auth.token", limit=20) if e.id > head]
    assert sorted(e.principal for e in tokens) == sorted(["anonymous", OWNER, CLERK, "anonymous"])
    with rt.platform_db.connect() as db:
        stored = " ".join(str(r) for r in db.execute(sa.select(audit_event)))
    assert not any(t in stored for t in (owner, forged, expired, locked))
    assert audit.verify(rt).ok
    monkeypatch.delenv("GOVLAKE_AUDIT_KEY")  # what cannot be recorded is not served
    unrecorded = httpx.get(f"{api}/resources", headers=_as(owner))
    assert unrecorded.status_code == 503
    assert unrecorded.json()["detail"].startswith("no audit key: set GOVLAKE_AUDIT_KEY")


def test_api_shows_unpublished_entries_only_to_their_stewards(api: str, built: Path) -> None:
    rt = Runtime.load(built)
    with httpx.Client(base_url=api, headers=_as(_token(built, OTHER))) as client:
        everything = client.get("/resources", params={"published_only": "false"}).json()
        assert [r["dataset"] for r in everything] == [GOLD]  # the published one only
        found = client.get("/search", params={"q": "注册资本", "published_only": "false"})
        assert [r["dataset"] for r in found.json()] == [GOLD]
        exported = client.get("/export", params={"published_only": "false"}).json()
        assert [r["dataset"] for r in exported["resources"]] == [GOLD]
        asked = client.get("/resources/GL-000001", params={"published_only": "false"})
        assert asked.status_code == 403
        assert asked.json()["detail"].startswith(f"{OTHER} may not review catalog:GL-000001")
    (denied,) = audit.events(rt, action="access.denied", user=OTHER)
    assert (denied.object, denied.details["verb"]) == ("catalog:GL-000001", "review")
    last = audit.events(rt, action="api.request", user=OTHER, limit=1)[0]
    assert (last.object, last.outcome, last.details["status"]) == (
        "/resources/GL-000001",
        "refused",
        403,
    )
    with httpx.Client(base_url=api, headers=_as(_token(built, PLATFORM))) as client:
        shown = client.get("/resources/GL-000001", params={"published_only": "false"})
        assert shown.status_code == 200 and shown.json()["dataset"] == BRONZE
    assert audit.verify(rt).ok


def test_dags_registering_at_once_get_one_resource_each(
    built: Path, platform_on_postgres: tuple[sa.Engine, str]
) -> None:
    engine, schema = platform_on_postgres
    config = load_config(built)
    errors: list[BaseException] = []

    def register() -> None:
        try:
            build_catalog(Runtime(config))
        except BaseException as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with engine.connect() as db:
        rows = db.execute(
            sa.text(f"SELECT dataset, code FROM {schema}.catalog_resource ORDER BY code")
        ).all()
        entries = db.scalar(sa.text(f"SELECT count(*) FROM {schema}.catalog_entry"))
    assert [r.dataset for r in rows] == [BRONZE, GOLD, SILVER]
    assert [r.code for r in rows] == ["GL-000001", "GL-000002", "GL-000003"]
    assert entries == 3
