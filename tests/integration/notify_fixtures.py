"""The platform the message tests share: people with roles and addresses, SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from govlake.principal import Principal
from govlake.runtime import Runtime
from services.notifications import contacts

# username: (organisation, roles, e-mail address)
PEOPLE = {
    "li.na": ("platform", ("data_steward",), "li.na@platform.gov.cn"),
    "zhang.wei": ("market_regulation", ("data_steward",), "zhang.wei@amr.gov.cn"),
    "tax.admin": ("tax", ("org_admin",), "admin@tax.gov.cn"),
    "tax.analyst": ("tax", ("analyst",), None),
}


def platform_db_on(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the platform DB at a fresh PostgreSQL schema when the test asks for it."""
    backend = getattr(request, "param", "sqlite")
    if backend == "postgresql":
        engine, schema = request.getfixturevalue("postgres_schema")
        url = engine.url.render_as_string(hide_password=False)
        monkeypatch.setenv(
            "AIRFLOW_CONN_GOVLAKE_PLATFORM", f"{url}?options=-csearch_path%3D{schema}"
        )
    return str(backend)


def people(conf: Path, sign_in: Callable[..., Principal]) -> dict[str, Runtime]:
    """Everyone of :data:`PEOPLE`, and ``admin``, as runtimes acting as them."""
    rt = Runtime.load(conf)
    admin = rt.acting_as(sign_in(conf, "admin", token=False))
    acting = {"admin": admin}
    for name, (org, roles, _) in PEOPLE.items():
        acting[name] = rt.acting_as(sign_in(conf, name, *roles, org=org, token=False))
    for name, (_, _, email) in PEOPLE.items():
        if email:
            contacts.set_email(admin, name, email)
    contacts.set_email(admin, "admin", "admin@platform.gov.cn")
    return acting
