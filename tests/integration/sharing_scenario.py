"""The registry scenario the sharing tests and the API's fuzzing run on, on SQLite or PostgreSQL.

Its three tables are built and in the catalog: the enterprise directory (gold) reviewed by
market regulation's steward and published by the platform's, the registry's bronze and silver
tables registered and unpublished. The people are added by the platform administrator; the tax
bureau's analyst applies, and :func:`authorise` walks an application to its grant.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from catalog.build import build_catalog
from catalog.sharing import applications as chain
from catalog.sharing.grants import ShareGrant
from catalog.sharing.terms import Request, ShareMode
from catalog.store import Catalog
from govlake.principal import Principal
from govlake.runtime import Runtime
from jobs.runner import run_pipeline
from services.identity import accounts, delegation
from services.identity.stewards import import_stewards

GOLD, SILVER = "gold.enterprise_directory", "silver.enterprise_registry"
TAX = ["tax", "jinan", "shandong"]  # the tax bureau and its ancestors
TODAY = datetime.now(UTC).date()
SERVICE_COLUMNS = ["uscc", "registered_capital_10k_yuan", "established_on", "legal_representative"]
# The grants the tax bureau holds once :func:`grant_every_query_mode` has run.
QUERY_GRANTS: dict[ShareMode, chain.Grant] = {
    "single_query": chain.Grant(columns=["uscc", "name"], per_minute=5),
    "composite_query": chain.Grant(
        columns=["uscc", "name", "region_code", "status"], row_filter="status = 'active'"
    ),
    "service_api": chain.Grant(columns=SERVICE_COLUMNS),
}


def on_postgres(schema: tuple[sa.Engine, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Put the platform DB in ``schema`` (an engine and a fresh schema of the local PostgreSQL)."""
    engine, name = schema
    url = engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("AIRFLOW_CONN_GOVLAKE_PLATFORM", f"{url}?options=-csearch_path%3D{name}")


def published_registry(conf_dir: Path, sign_in: Callable[..., Principal]) -> dict[str, Runtime]:
    """The registry built and in the catalog, its directory published; the people, by name."""
    for path in (conf_dir / "datasets").glob("*.yaml"):
        path.write_text(path.read_text(encoding="utf-8").replace("engine: spark", "engine: arrow"))
    rt = Runtime.load(conf_dir)
    for pipeline in rt.config.pipeline_order():
        run_pipeline(rt, pipeline.name)
    build_catalog(rt)
    people = {
        "zhang.wei": ("market_regulation", ()),  # the owner's steward (stewards: of conf)
        "li.na": ("platform", ()),  # the platform's steward
        "wang.fang": ("human_resources", ()),  # another department's steward
        "tax.analyst": ("tax", ("analyst",)),
        "auditor": ("platform", ("auditor",)),
    }
    signed = {
        name: sign_in(conf_dir, name, *roles, org=org, token=False)
        for name, (org, roles) in people.items()
    }
    admin = rt.acting_as(sign_in(conf_dir, "admin", token=False))
    import_stewards(admin)
    delegation.assign_role(admin, "wang.fang", "data_steward")
    as_ = {name: rt.acting_as(fresh(rt, p)) for name, p in signed.items()}
    catalog = Catalog(rt)
    code = catalog.resource(GOLD).code
    catalog.review(code, approve=True, actor=as_["zhang.wei"].principal, comment=None, version=None)  # type: ignore[arg-type]
    catalog.publish(code, actor=as_["li.na"].principal)  # type: ignore[arg-type]
    return as_


def fresh(rt: Runtime, principal: Principal) -> Principal:
    """The principal with the roles it holds now."""
    with rt.platform_db.connect() as conn:
        return accounts.principal(conn, accounts.existing(conn, principal.username))


def application(**changes: object) -> Request:
    """The tax bureau's application for the directory, with ``changes``."""
    values: dict[str, object] = {
        "matter": "纳税信用评价",
        "scenario": "按统一社会信用代码核对企业登记状态",
        "purpose": "核对纳税人登记信息",
        "mode": "single_query",
        "fields": ["uscc", "name", "status"],
        "materials": ["数据共享申请函"],
        "until": TODAY + timedelta(days=365),
    }
    return Request.model_validate({**values, **changes})


def gold_code(rt: Runtime) -> str:
    """The directory's resource code."""
    return Catalog(rt).resource(GOLD).code


def authorise(
    people: dict[str, Runtime], mode: ShareMode, terms: chain.Grant, *, code: str | None = None
) -> ShareGrant:
    """The tax bureau applies for ``code`` (the directory) in ``mode``; authorised through."""
    tax, owner, hub = (people[n] for n in ("tax.analyst", "zhang.wei", "li.na"))
    made = chain.apply(tax, code or gold_code(tax), application(mode=mode))
    chain.act(hub, made.code, "accept")
    chain.act(owner, made.code, "approve")
    return chain.authorize_application(hub, made.code, terms)


def publish_registry(people: dict[str, Runtime]) -> str:
    """The registry's silver table reviewed by its owner and published; its resource code."""
    catalog = Catalog(people["li.na"])
    code = catalog.resource(SILVER).code
    steward, hub = people["zhang.wei"].principal, people["li.na"].principal
    assert steward is not None and hub is not None
    catalog.review(code, approve=True, actor=steward, comment=None, version=None)
    catalog.publish(code, actor=hub)
    return code


def grant_every_query_mode(people: dict[str, Runtime]) -> None:
    """The tax bureau holds the :data:`QUERY_GRANTS`."""
    for mode, terms in QUERY_GRANTS.items():
        authorise(people, mode, terms)
