"""The composite query over HTTP: the directory and the registry joined on the credit code.

The tax bureau holds a composite-query grant on each of market regulation's two published
resources, each with its own columns and row filter; the registry's natural-person and address
columns are masked. The API is served by uvicorn on loopback, the platform DB is SQLite.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog.sharing import applications as chain
from govlake.principal import Principal
from govlake.runtime import Runtime
from jobs.masking import mask_key, mask_table, masks_for
from services import audit
from tests.integration.sharing_scenario import (
    GOLD,
    QUERY_GRANTS,
    SILVER,
    authorise,
    gold_code,
    publish_registry,
    published_registry,
)

pytestmark = pytest.mark.integration

REGISTRY_COLUMNS = ["uscc", "legal_representative", "address", "registered_capital_yuan"]
REGISTRY_FILTER = "registered_capital_yuan >= 1000000"


@dataclass(frozen=True)
class Served:
    """The API's address, the tax analyst's token, and the two resources' codes."""

    url: str
    token: str
    directory: str
    registry: str
    tax: Runtime


@pytest.fixture
def platform(
    conf_dir: Path, registry_db: Path, sign_in: Callable[..., Principal]
) -> dict[str, Runtime]:
    """The registry's published scenario; the people, by name."""
    return published_registry(conf_dir, sign_in)


@pytest.fixture
def served(platform: dict[str, Runtime]) -> Iterator[Served]:
    """The API served; the tax bureau holds composite-query grants on both published resources."""
    yield from _serve(platform)


def _serve(platform: dict[str, Runtime], columns: list[str] = REGISTRY_COLUMNS) -> Iterator[Served]:
    from apps.catalog_api import create_app
    from services.identity import authentication
    from tests.conftest import TEST_PASSWORD
    from tests.served import served

    tax = platform["tax.analyst"]
    registry = publish_registry(platform)
    authorise(platform, "composite_query", QUERY_GRANTS["composite_query"])
    terms = chain.Grant(columns=columns, row_filter=REGISTRY_FILTER)
    authorise(platform, "composite_query", terms, code=registry)
    token = authentication.login(tax, "tax.analyst", TEST_PASSWORD).token
    with served(create_app(tax)) as url:
        yield Served(url, token, gold_code(tax), registry, tax)


def _post(s: Served, body: dict[str, Any], token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or s.token}"}
    return httpx.post(f"{s.url}/v1/composite", json=body, headers=headers, timeout=60)


def _expected(s: Served) -> dict[str, dict[str, Any]]:
    """The joined rows the grants allow, by credit code: each side filtered and masked first."""
    rt = s.tax
    directory = {r["uscc"]: r for r in rt.lake.read(GOLD).to_pylist() if r["status"] == "active"}
    registry = rt.lake.read(SILVER).select(REGISTRY_COLUMNS)
    rules = rt.config.catalog.sensitive_columns
    masked = mask_table(registry, masks_for(REGISTRY_COLUMNS, rules), token_key=mask_key())
    joined = {}
    for row in masked.to_pylist():
        if row["registered_capital_yuan"] >= 1_000_000 and row["uscc"] in directory:
            left = directory[row["uscc"]]
            joined[row["uscc"]] = {
                **{f"{s.directory}.{c}": left[c] for c in ("uscc", "name", "region_code")},
                **{f"{s.registry}.{c}": row[c] for c in ("legal_representative", "address")},
            }
    return joined


def _pages(s: Served, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every row of the query, page after page."""
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = _post(s, {**body, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        rows += page.json()["rows"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return rows


def test_two_granted_resources_join_on_the_credit_code_each_as_its_grant_allows(
    served: Served,
) -> None:
    s = served
    d, r = s.directory, s.registry
    fields = [f"{d}.uscc", f"{d}.name", f"{d}.region_code",
              f"{r}.legal_representative", f"{r}.address"]  # fmt: skip
    expected = _expected(s)
    directory_rows = s.tax.lake.read(GOLD).num_rows
    assert 0 < len(expected) < directory_rows  # both grants' filters cut rows
    rows = _pages(s, {"resources": [d, r], "fields": fields, "limit": 7})
    assert [row[f"{d}.uscc"] for row in rows] == sorted(expected)  # each once, in key order
    assert {row[f"{d}.uscc"]: row for row in rows} == expected  # masked as the grant says
    clear = {row["uscc"]: row for row in s.tax.lake.read(SILVER).to_pylist()}
    long_names = [u for u in expected if len(clear[u]["legal_representative"] or "") > 1]
    assert long_names and all(
        expected[u][f"{r}.legal_representative"] != clear[u]["legal_representative"]
        for u in long_names
    )

    # sorted by a granted column of the registry, descending: a total order across pages
    by_capital = _pages(s, {"resources": [d, r], "sort": [f"-{r}.registered_capital_yuan"],
                            "fields": [f"{d}.uscc", f"{r}.registered_capital_yuan"],
                            "limit": 6})  # fmt: skip
    order = [
        (-Decimal(row[f"{r}.registered_capital_yuan"]), row[f"{d}.uscc"]) for row in by_capital
    ]
    assert len(by_capital) == len(expected) and order == sorted(order)

    # the caller's filter: a part over one side's clear columns, a part over both
    jinan = f'"{d}".region_code LIKE \'3701%\' AND ("{d}".name <> \'\' OR "{r}".address IS NULL)'
    narrowed = _pages(s, {"resources": [d, r], "filter": jinan, "fields": [f"{d}.uscc"]})
    assert {row[f"{d}.uscc"] for row in narrowed} == {
        u for u, row in expected.items() if row[f"{d}.region_code"].startswith("3701")
    }
    # a filter sees the masked values: a clear name finds nothing
    name = clear[long_names[0]]["legal_representative"].replace("'", "''")
    probe = _post(s, {"resources": [d, r], "filter": f"\"{r}\".legal_representative = '{name}'"})
    assert probe.status_code == 200 and probe.json()["rows"] == []

    reads = audit.events(s.tax, action="data.read", limit=200)
    per_resource = {code: [e for e in reads if e.object == f"catalog:{code}"] for code in (d, r)}
    pages = -(-len(expected) // 7)
    assert len(per_resource[d]) == len(per_resource[r]) > pages
    first = per_resource[d][-pages:]  # the first paging, oldest last
    assert sum(e.details["rows"] for e in first) == len(expected)
    assert all(e.details["mode"] == "composite_query" and e.details["joined_with"] == [r]
               for e in per_resource[d])  # fmt: skip


def test_a_composite_query_is_refused_naming_what_it_may_not_ask(
    served: Served, platform: dict[str, Runtime]
) -> None:
    s = served
    d, r = s.directory, s.registry
    both = [d, r]
    for body, reason in (
        ({"fields": [f"{d}.legal_representative"]}, f"fields: {d}.legal_representative is not"),
        ({"fields": ["uscc"]}, "fields: 'uscc' names no resource of the query"),
        ({"filter": f'"{d}".legal_representative = 1'}, f"filter names {d}.legal_representative"),
        ({"filter": "status = 'active'"}, "columns are named by their table"),
        ({"sort": [f"{r}.name"]}, f"sort: {r}.name is not granted"),
        ({"on": [f"{d}.uscc = {r}.status"]}, f"on: {r}.status is not granted"),
        ({"on": [f"{d}.name = {r}.legal_representative"]}, "joins no key: name is not a key"),
        ({"on": [f"{d}.region_code = {r}.uscc"]}, f"{r}.uscc is not the data element of {d}"),
        ({"filter": f'"{d}".uscc = \'1\') OR (1=1'}, "not a condition|not allowed"),
        ({"filter": f'"{d}".uscc IN (SELECT uscc FROM {GOLD})'}, "not allowed in a filter"),
        ({"filter": f"\"{d}\".uscc = '1'; DROP TABLE share_grant"}, "not a condition|not allowed"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "the cursor is not one this query gave"),
        ({"resources": [d, d]}, "distinct codes"),
        ({"filter": f'"{d}".name > 1'}, "filter cannot be evaluated: Cannot compare"),
        ({"filter": f'CAST("{r}".address AS INT) = 1'}, "filter cannot be evaluated: Could not"),
    ):  # fmt: skip
        answer = _post(s, {"resources": both, **body})
        assert answer.status_code == 400 and re.search(reason, answer.text), (body, answer.text)
    headers = {"Authorization": f"Bearer {s.token}"}
    for filter_, reason in (
        ("legal_representative = '张三'", "names legal_representative, masked for this grant"),
        ("CAST(address AS INT) = 1", "names address, masked"),
        ("registered_capital_yuan > 'x'", "filter cannot be evaluated"),
    ):  # one resource's pages compare clear values: no filter over what the grant masks
        one = httpx.get(f"{s.url}/v1/resources/{r}/records", params={"filter": filter_},
                        headers=headers, timeout=60)  # fmt: skip
        assert one.status_code == 400 and reason in one.text, (filter_, one.text)
    first = _post(s, {"resources": both, "limit": 1})
    other_query = _post(s, {"resources": both, "sort": [f"{d}.name"],
                            "cursor": first.json()["next_cursor"]})  # fmt: skip
    assert other_query.status_code == 400 and "not one this query gave" in other_query.text
    for oversized in ({"limit": 1001}, {"limit": 0}, {"resources": [d] * 5}, {"having": "x"}):
        assert _post(s, {"resources": both, **oversized}).status_code == 422, oversized

    # a resource without a composite-query grant: 403 for the whole query, no rows of the other
    before = len(audit.events(s.tax, action="data.read", limit=500))
    silver_bronze = "GL-999999"
    for codes in ([d, silver_bronze], [silver_bronze, d]):
        refused = _post(s, {"resources": codes})
        assert refused.status_code == 403 and "no published resource" in refused.text
        assert "rows" not in refused.json()
    (composite,) = [a for a in chain.listed(s.tax) if a.request.mode == "composite_query"
                    and a.resource == r]  # fmt: skip
    chain.act(platform["li.na"], composite.code, "revoke", "用途结束")
    revoked = _post(s, {"resources": both})
    assert revoked.status_code == 403 and f"may not read {r} by composite_query" in revoked.text
    assert len(audit.events(s.tax, action="data.read", limit=500)) == before
    denied = audit.events(s.tax, action="access.denied", limit=50)
    assert any(
        e.object == f"catalog:{r}" and e.details["mode"] == "composite_query" for e in denied
    )
    assert _post(s, {"resources": [d]}).status_code == 200  # the directory's grant still holds


@pytest.fixture
def tokenised(
    conf_dir: Path,
    registry_db: Path,
    sign_in: Callable[..., Principal],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Served, dict[str, Runtime]]]:
    """The scenario with the credit code masked by token wherever a grant does not clear it."""
    monkeypatch.setenv("GOVLAKE_MASK_KEY", secrets.token_urlsafe(32))
    path = conf_dir / "catalog.yaml"
    rule = (
        "  - {pattern: uscc, label: 统一社会信用代码, mask: token}\n"
        "  - {pattern: established_on, label: 成立日期, mask: 'null'}\n"
    )
    text = path.read_text(encoding="utf-8").replace(
        "sensitive_columns:\n", f"sensitive_columns:\n{rule}"
    )
    path.write_text(text, encoding="utf-8")
    platform = published_registry(conf_dir, sign_in)
    for s in _serve(platform, ["uscc", "legal_representative", "established_on"]):
        yield s, platform


def test_a_masked_key_joins_as_a_token_on_both_sides_and_never_against_clear_values(
    tokenised: tuple[Served, dict[str, Runtime]],
) -> None:
    s, platform = tokenised
    d, r = s.directory, s.registry
    body = {"resources": [d, r], "fields": [f"{d}.uscc", f"{r}.uscc", f"{d}.region_code"]}
    rows = _pages(s, {**body, "limit": 1000})
    active = {row["uscc"] for row in s.tax.lake.read(GOLD).to_pylist() if row["status"] == "active"}
    large = {row["uscc"] for row in s.tax.lake.read(SILVER).to_pylist()
             if row["registered_capital_yuan"] >= 1_000_000}  # fmt: skip
    assert len(rows) == len(active & large) > 0  # the same enterprises as joined in clear
    assert all(re.fullmatch("[0-9a-f]{32}", row[f"{d}.uscc"]) for row in rows)
    assert all(row[f"{d}.uscc"] == row[f"{r}.uscc"] for row in rows)
    # sorted by a column masked as null: every value null, the pages go on by the keys
    by_null = _pages(s, {**body, "sort": [f"-{r}.established_on"], "limit": 7})
    assert sorted(row[f"{d}.uscc"] for row in by_null) == sorted(row[f"{d}.uscc"] for row in rows)
    assert _post(s, {**body, "fields": [f"{r}.established_on"]}).json()["rows"][0] == {
        f"{r}.established_on": None
    }

    (composite,) = [a for a in chain.listed(s.tax) if a.request.mode == "composite_query"
                    and a.resource == r]  # fmt: skip
    chain.act(platform["li.na"], composite.code, "revoke", "改为明文")
    terms = chain.Grant(columns=["uscc", "legal_representative"], clear=["uscc"])
    authorise(platform, "composite_query", terms, code=r)
    mixed = _post(s, body)
    assert mixed.status_code == 400, mixed.text
    assert f"on: {d}.uscc is shown masked by token and its partner in clear" in mixed.text
