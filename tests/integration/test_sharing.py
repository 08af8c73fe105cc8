"""The resource application chain on the registry's published catalog, SQLite and PostgreSQL.

The tax bureau applies for market regulation's enterprise directory; the platform accepts and
authorises, market regulation approves. Every other principal is refused at each step, and
every step, allowed or not, is an event and an audit row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from apps.cli.main import app
from catalog.sharing import applications as chain
from catalog.sharing import grants
from catalog.sharing.workflow import StepRefused
from catalog.store import Catalog
from govlake.errors import GovlakeError
from govlake.principal import Principal
from govlake.runtime import Runtime
from services import audit
from services.identity import user_admin
from services.identity.policy import AccessDenied
from tests.integration.sharing_scenario import (
    GOLD,
    SERVICE_COLUMNS,
    SILVER,
    TAX,
    TODAY,
    application,
    gold_code,
    grant_every_query_mode,
    on_postgres,
    published_registry,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def platform(
    request: pytest.FixtureRequest,
    conf_dir: Path,
    registry_db: Path,
    monkeypatch: pytest.MonkeyPatch,
    sign_in: Callable[..., Principal],
) -> dict[str, Runtime]:
    """The registry's published scenario; the people, by name.

    The platform DB is SQLite, or PostgreSQL where a test parametrizes it so (indirectly).
    """
    if getattr(request, "param", "sqlite") == "postgresql":
        on_postgres(request.getfixturevalue("postgres_schema"), monkeypatch)
    return published_registry(conf_dir, sign_in)


BOTH = pytest.mark.parametrize("platform", ["sqlite", "postgresql"], indirect=True)


@BOTH
def test_the_chain_from_application_to_grant_and_revocation(platform: dict[str, Runtime]) -> None:
    tax, owner, hub, other = (
        platform[n] for n in ("tax.analyst", "zhang.wei", "li.na", "wang.fang")
    )
    code = gold_code(tax)
    made = chain.apply(tax, code, application())
    assert (made.code, made.status, made.organisation, made.owner) == (
        "AP-000001",
        "submitted",
        "tax",
        "market_regulation",
    )
    assert made.provider == "市场监督管理局" and made.sources == [
        "database:market_registry.enterprise"
    ]
    with pytest.raises(StepRefused, match="AP-000001 is submitted: it cannot be approved now"):
        chain.act(owner, made.code, "approve")
    for who in (tax, owner, other):
        with pytest.raises(AccessDenied, match=f"may not accept catalog:{code}"):
            chain.act(who, made.code, "accept")
    assert chain.act(hub, made.code, "accept", "材料齐全").status == "accepted"
    for who in (tax, hub, other):
        with pytest.raises(AccessDenied, match=f"may not approve catalog:{code}"):
            chain.act(who, made.code, "approve")
    assert chain.act(owner, made.code, "approve").status == "approved"
    with pytest.raises(AccessDenied, match=f"zhang.wei may not authorize catalog:{code}"):
        chain.authorize_application(owner, made.code, chain.Grant())
    terms = chain.Grant(columns=["uscc", "status"], row_filter="region_code LIKE '3701%'",
                        per_minute=10)  # fmt: skip
    grant = chain.authorize_application(hub, made.code, terms, "同意")
    assert (grant.organisation, grant.dataset, grant.mode, grant.status) == (
        "tax",
        GOLD,
        "single_query",
        "active",
    )
    assert grant.terms.columns == ["uscc", "status"] and grant.terms.per_minute == 10
    assert grant.valid_until.date() == TODAY + timedelta(days=366)
    found, events, shown = chain.show(tax, made.code)
    assert found.status == "active" and shown == grant
    assert [(e.action, e.to_status, e.actor) for e in events] == [
        ("apply", "submitted", "tax.analyst"),
        ("accept", "accepted", "li.na"),
        ("approve", "approved", "zhang.wei"),
        ("authorize", "authorized", "li.na"),
        ("activate", "active", chain.CLOCK_ACTOR),
    ]
    now = datetime.now(UTC)
    with tax.platform_db.connect() as conn:
        assert [g.id for g in grants.in_force(conn, TAX, GOLD, now, "single_query")] == [grant.id]
        assert grants.in_force(conn, TAX, GOLD, now, "subscription") == []
        assert grants.in_force(conn, ["human_resources", "jinan"], GOLD, now) == []
        assert grants.in_force(conn, TAX, GOLD, grant.valid_until) == []  # its period is over

    with pytest.raises(StepRefused, match="to revoke AP-000001 needs a comment"):
        chain.act(owner, made.code, "revoke")
    with pytest.raises(AccessDenied, match="wang.fang may not authorize"):
        chain.act(other, made.code, "revoke", "no")
    assert chain.act(owner, made.code, "revoke", "用途变更").status == "revoked"
    with tax.platform_db.connect() as conn:
        assert grants.in_force(conn, TAX, GOLD, datetime.now(UTC)) == []
    trail = [(e.action, e.principal, e.outcome) for e in audit.events(tax, limit=200)
             if e.action.startswith("sharing.") or e.action == "access.denied"]  # fmt: skip
    assert ("sharing.apply", "tax.analyst", "success") in trail
    assert ("sharing.revoke", "zhang.wei", "success") in trail
    assert ("sharing.accept", "wang.fang", "refused") in trail
    assert sum(1 for t in trail if t[2] == "refused" and t[0].startswith("sharing.")) == 10


def test_what_cannot_be_applied_for(platform: dict[str, Runtime]) -> None:
    tax, owner, auditor = (platform[n] for n in ("tax.analyst", "zhang.wei", "auditor"))
    code = gold_code(tax)
    silver = Catalog(tax).resource(SILVER).code
    with pytest.raises(GovlakeError, match=f"{silver} is not published: only published catalog"):
        chain.apply(tax, silver, application())
    with pytest.raises(GovlakeError, match="belongs to market_regulation: market_regulation reads"):
        chain.apply(owner, code, application())
    with pytest.raises(GovlakeError, match="fields salary are not columns of"):
        chain.apply(tax, code, application(fields=["uscc", "salary"]))
    with pytest.raises(AccessDenied, match="an auditor reads the audit and nothing else"):
        chain.apply(auditor, code, application())
    with pytest.raises(GovlakeError, match="no application 'AP-999999'"):
        chain.act(platform["li.na"], "AP-999999", "accept")
    with pytest.raises(ValueError, match="the period must end after today"):
        application(until=TODAY)
    chain.apply(tax, code, application())
    with pytest.raises(GovlakeError, match="tax has application AP-000001 for .* open already"):
        chain.apply(tax, code, application())
    assert chain.apply(tax, code, application(mode="subscription")).code == "AP-000002"
    # the owner sees applications for its resources; another department does not
    assert [a.code for a in chain.listed(owner)] == ["AP-000001", "AP-000002"]
    assert chain.listed(platform["wang.fang"]) == []
    with pytest.raises(AccessDenied):
        chain.show(platform["wang.fang"], "AP-000001")


def test_authorising_checks_the_terms(platform: dict[str, Runtime]) -> None:
    tax, owner, hub = (platform[n] for n in ("tax.analyst", "zhang.wei", "li.na"))
    made = chain.apply(tax, gold_code(tax), application())
    chain.act(hub, made.code, "accept")
    chain.act(owner, made.code, "approve")
    for bad, reason in (
        (chain.Grant(row_filter="1=1; DROP TABLE share_grant"), "not a condition|not allowed"),
        (chain.Grant(row_filter="salary > 0"), "filter names salary, not columns"),
        (chain.Grant(row_filter="(SELECT 1) = 1"), "not allowed in a filter"),
        (chain.Grant(columns=["uscc", "secret"]), "secret is not a column of"),
        (chain.Grant(clear=["nobody"]), "nobody is not a column of"),
    ):
        with pytest.raises(GovlakeError, match=reason):
            chain.authorize_application(hub, made.code, bad)
    assert chain.show(tax, made.code)[0].status == "approved"  # nothing was written
    with tax.platform_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM share_grant")) == 0
    later = datetime.now(UTC) + timedelta(days=30)
    grant = chain.authorize_application(hub, made.code, chain.Grant(until=later))
    assert grant.valid_until == later and grant.terms.columns == ["uscc", "name", "status"]
    with pytest.raises(AccessDenied, match="tax.analyst may not accept organisation:platform"):
        chain.expire(tax, clock=lambda: later + timedelta(seconds=1))
    assert chain.expire(hub, clock=lambda: later + timedelta(seconds=1)) == [made.code]
    assert chain.show(tax, made.code)[0].status == "expired"


def test_the_commands_walk_the_chain(platform: dict[str, Runtime], conf_dir: Path,
                                     sign_in: Callable[..., Principal]) -> None:  # fmt: skip
    runner = CliRunner()

    def govlake(*args: str) -> tuple[int, str]:
        done = runner.invoke(app, [*args, "--conf", str(conf_dir)])
        return done.exit_code, done.output

    code = gold_code(platform["tax.analyst"])
    until = str(TODAY + timedelta(days=90))
    sign_in(conf_dir, "tax.analyst")
    form = ["--matter", "纳税信用", "--scenario", "按月比对", "--purpose", "核对", "--until", until]
    applied = govlake("apply", code, "--mode", "subscription", *form, "--field", "uscc")
    assert applied == (0, f"AP-000001: submitted ({code} {GOLD} by subscription)\n")
    code_, output = govlake("apply", code, "--mode", "fax", "--matter", "m", "--scenario", "s",
                            "--purpose", "p", "--until", until)  # fmt: skip
    assert code_ == 1 and output.startswith("error: --mode: Input should be 'single_query'")
    sign_in(conf_dir, "li.na")
    assert govlake("applications", "accept", "AP-000001") == (0, "AP-000001: accepted\n")
    code_, output = govlake("applications", "reject", "AP-000001")
    assert code_ == 1 and "to reject AP-000001 needs a comment saying why" in output
    code_, output = govlake("applications", "reject", "AP-000001", "--comment", "no")
    assert code_ == 1 and "li.na may not approve" in output  # the owner decides now
    sign_in(conf_dir, "zhang.wei")
    assert govlake("applications", "approve", "AP-000001") == (0, "AP-000001: approved\n")
    sign_in(conf_dir, "li.na")
    code_, output = govlake("applications", "authorize", "AP-000001", "--filter", "uscc = '1'")
    assert code_ == 0 and output.startswith(f"AP-000001: active; grant 1 on {GOLD} for tax until")
    code_, output = govlake("applications", "show", "AP-000001")
    assert code_ == 0 and "grant 1 active: columns uscc · filter uscc = '1'" in output
    assert "authorize -> authorized by li.na (platform)" in output
    code_, output = govlake("applications", "list")
    assert code_ == 0 and "AP-000001" in output and "active" in output
    assert user_admin.bootstrapped(platform["li.na"])


# -- the query share modes over HTTP --------------------------------------------------------------


@pytest.fixture
def shared(platform: dict[str, Runtime]) -> Iterator[tuple[str, dict[str, str]]]:
    """The API served, the tax bureau holding the query-mode grants; the URL and the tokens."""
    from apps.catalog_api import create_app
    from services.identity import authentication
    from tests.conftest import TEST_PASSWORD
    from tests.served import served

    tax = platform["tax.analyst"]
    grant_every_query_mode(platform)
    tokens = {
        name: authentication.login(tax, name, TEST_PASSWORD).token
        for name in ("tax.analyst", "wang.fang", "auditor")
    }
    with served(create_app(tax)) as url:
        yield url, tokens


def _client(url: str, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=30)


@BOTH
def test_a_single_record_by_key_with_the_granted_columns_only(
    shared: tuple[str, dict[str, str]], platform: dict[str, Runtime]
) -> None:
    url, tokens = shared
    tax = platform["tax.analyst"]
    code = gold_code(tax)
    uscc = tax.lake.read(GOLD).column("uscc")[0].as_py()
    with _client(url, tokens["tax.analyst"]) as client:
        found = client.get(f"/v1/resources/{code}/records/{uscc}")
        assert found.status_code == 200, found.text
        assert set(found.json()) == {"uscc", "name"} and found.json()["uscc"] == uscc
        assert client.get(f"/v1/resources/{code}/records/nobody").status_code == 404
        for _ in range(3):  # five calls a minute: the sixth and later are refused
            client.get(f"/v1/resources/{code}/records/{uscc}")
        over = client.get(f"/v1/resources/{code}/records/{uscc}")
        assert over.status_code == 429 and 1 <= int(over.headers["Retry-After"]) <= 61
    for token, status in ((None, 401), ("forged.token.x", 401), (tokens["wang.fang"], 403),
                          (tokens["auditor"], 403)):  # fmt: skip
        with _client(url, token) as client:
            assert client.get(f"/v1/resources/{code}/records/{uscc}").status_code == status
    with _client(url, tokens["tax.analyst"]) as client:
        guessed = client.get("/v1/resources/GL-999999/records/1")
        assert guessed.status_code == 403 and "no published resource" in guessed.text
    reads = [e for e in audit.events(tax, action="data.read", limit=50)
             if e.details.get("mode") == "single_query"]  # fmt: skip
    assert [e.details["rows"] for e in reads] == [1, 1, 1, 0, 1]  # newest first
    assert all(e.principal == "tax.analyst" for e in reads)


def test_composite_pages_hold_the_grants_filter_and_columns(
    shared: tuple[str, dict[str, str]], platform: dict[str, Runtime]
) -> None:
    url, tokens = shared
    tax = platform["tax.analyst"]
    code = gold_code(tax)
    gold = tax.lake.read(GOLD).to_pylist()
    active = sorted(r["uscc"] for r in gold if r["status"] == "active")
    assert 0 < len(active) < len(gold)
    seen: list[str] = []
    with _client(url, tokens["tax.analyst"]) as client:
        cursor = None
        while True:
            params = {"limit": 50, **({"cursor": cursor} if cursor else {})}
            page = client.get(f"/v1/resources/{code}/records", params=params)
            assert page.status_code == 200, page.text
            body = page.json()
            assert all(set(r) == {"uscc", "name", "region_code", "status"} for r in body["rows"])
            seen += [r["uscc"] for r in body["rows"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen == active  # every granted row once, in key order, none other
        jinan = {"filter": "region_code LIKE '3701%'", "fields": "uscc"}
        narrowed = client.get(f"/v1/resources/{code}/records", params=jinan)
        assert narrowed.status_code == 200
        assert {r["uscc"] for r in narrowed.json()["rows"]} <= set(active)
        for params, reason in (
            ({"fields": "uscc,legal_representative"}, "not granted: legal_representative"),
            ({"filter": "legal_representative = 'x'"}, "filter names legal_representative"),
            ({"filter": "1=1) OR (1=1"}, "not a condition|not allowed"),
            ({"filter": "uscc IN (SELECT uscc FROM gold.enterprise_directory)"}, "not allowed"),
            ({"cursor": "bm90IGEgY3Vyc29y"}, "the cursor is not one this API gave"),
        ):
            bad = client.get(f"/v1/resources/{code}/records", params=params)
            assert bad.status_code == 400 and re.search(reason, bad.text), (params, bad.text)
        assert (
            client.get(f"/v1/resources/{code}/records", params={"limit": 5000}).status_code == 422
        )

    # revoked: the next call is refused
    (composite,) = [a for a in chain.listed(tax) if a.request.mode == "composite_query"]
    chain.act(platform["li.na"], composite.code, "revoke", "用途结束")
    with _client(url, tokens["tax.analyst"]) as client:
        assert client.get(f"/v1/resources/{code}/records").status_code == 403


def test_the_service_api_answers_as_its_own_document_says(
    shared: tuple[str, dict[str, str]], platform: dict[str, Runtime]
) -> None:
    import jsonschema

    url, tokens = shared
    code = gold_code(platform["tax.analyst"])
    with _client(url, tokens["tax.analyst"]) as client:
        document = client.get(f"/v1/resources/{code}/service/openapi.json")
        assert document.status_code == 200, document.text
        spec = document.json()
        record = spec["components"]["schemas"]["Record"]
        assert list(record["properties"]) == SERVICE_COLUMNS
        assert record["properties"]["established_on"]["format"] == "date"
        assert record["properties"]["registered_capital_10k_yuan"]["type"][0] == "string"
        assert list(spec["paths"]) == [f"/v1/resources/{code}/service/records"]
        page = client.get(f"/v1/resources/{code}/service/records", params={"limit": 200})
        assert page.status_code == 200, page.text
        rows = page.json()["rows"]
        assert len(rows) == 200
        for row in rows:
            jsonschema.validate(row, record)
        clear = {r["uscc"]: r["legal_representative"]
                 for r in platform["tax.analyst"].lake.read(GOLD).to_pylist()}  # fmt: skip
        for row in rows:  # a natural person's name: its first character only
            name = clear[row["uscc"]]
            assert row["legal_representative"] == (
                name[0] + "*" * (len(name) - 1) if name else name
            )
        assert any(clear[r["uscc"]] and len(clear[r["uscc"]]) > 1 for r in rows)
        assert client.get(f"/v1/resources/{code}/records").status_code == 200  # its own grant
    with _client(url, tokens["wang.fang"]) as client:
        refused = client.get(f"/v1/resources/{code}/service/openapi.json")
        assert refused.status_code == 403


def test_a_volume_far_above_the_usual_raises_one_alert(platform: dict[str, Runtime]) -> None:
    from catalog.sharing import usage

    tax, owner, hub = (platform[n] for n in ("tax.analyst", "zhang.wei", "li.na"))
    made = chain.apply(tax, gold_code(tax), application(mode="composite_query"))
    chain.act(hub, made.code, "accept")
    chain.act(owner, made.code, "approve")
    grant = chain.authorize_application(hub, made.code, chain.Grant(per_minute=3))
    caller = tax.principal
    assert caller is not None
    now = datetime.now(UTC).replace(second=30)
    for hours in range(1, 8):  # a week of habit: 200 rows a minute, now and then
        then = now - timedelta(hours=hours * 20)
        usage.count_call(tax, grant, caller, then)
        usage.add_rows(tax, grant, caller, then, 200)
    usage.count_call(tax, grant, caller, now)
    usage.add_rows(tax, grant, caller, now, 1_500)  # 7.5x: unusual, but below the floor
    usage.add_rows(tax, grant, caller, now, 20_000)  # far above: one alert
    usage.add_rows(tax, grant, caller, now, 20_000)  # the same minute: no second one
    (alert,) = audit.events(tax, action="sharing.anomaly")
    assert (alert.principal, alert.object) == ("tax.analyst", f"catalog:{grant.resource}")
    assert (
        alert.details["rows_this_minute"] == 21_500
        and alert.details["usual_rows_per_minute"] == 200
    )
    usage.count_call(tax, grant, caller, now)
    usage.count_call(tax, grant, caller, now)
    with pytest.raises(usage.QuotaExceeded, match="allows 3 calls a minute") as refused:
        usage.count_call(tax, grant, caller, now)
    assert 1 <= refused.value.retry_after <= 31
    usage.count_call(tax, grant, caller, now + timedelta(minutes=1))  # a new minute


@BOTH
def test_rows_returned_after_the_minute_of_their_call_count_in_the_next(
    platform: dict[str, Runtime],
) -> None:
    from catalog.sharing import usage
    from govlake.platform_db.schema import share_call

    tax, owner, hub = (platform[n] for n in ("tax.analyst", "zhang.wei", "li.na"))
    made = chain.apply(tax, gold_code(tax), application(mode="composite_query"))
    chain.act(hub, made.code, "accept")
    chain.act(owner, made.code, "approve")
    grant = chain.authorize_application(hub, made.code, chain.Grant(per_minute=1))
    caller = tax.principal
    assert caller is not None
    called = datetime.now(UTC).replace(second=59, microsecond=900_000)
    usage.count_call(tax, grant, caller, called)
    usage.add_rows(tax, grant, caller, called + timedelta(seconds=1), 1000)  # the next minute
    with tax.platform_db.connect() as conn:
        buckets = conn.execute(
            sa.select(share_call.c.calls, share_call.c.rows)
            .where(share_call.c.grant_id == grant.id)
            .order_by(share_call.c.minute)
        ).all()
    assert [tuple(b) for b in buckets] == [(1, 0), (0, 1000)]
    usage.count_call(tax, grant, caller, called + timedelta(seconds=1))  # the next minute's call
    with pytest.raises(usage.QuotaExceeded):
        usage.count_call(tax, grant, caller, called + timedelta(seconds=2))
