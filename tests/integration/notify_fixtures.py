"""The platform the message tests share: people with roles and addresses, SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from govlake.platform_db.schema import user
from govlake.principal import Principal
from govlake.runtime import Runtime
from services.notifications import contacts

# username: (organisation, roles, e-mail address, name)
PEOPLE = {
    "li.na": ("platform", ("data_steward",), "li.na@platform.gov.cn", "李娜"),
    "zhang.wei": ("market_regulation", ("data_steward",), "zhang.wei@amr.gov.cn", "张伟"),
    "tax.admin": ("tax", ("org_admin",), "admin@tax.gov.cn", "税务局管理员"),
    "tax.analyst": ("tax", ("analyst",), None, "刘洋"),
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
    for name, (org, roles, _, _) in PEOPLE.items():
        acting[name] = rt.acting_as(sign_in(conf, name, *roles, org=org, token=False))
    for name, (_, _, email, shown) in PEOPLE.items():
        if email:
            contacts.set_email(admin, name, email)
        with rt.platform_db.begin() as conn:  # the names people are known by
            conn.execute(user.update().where(user.c.username == name).values(display_name=shown))
    contacts.set_email(admin, "admin", "admin@platform.gov.cn")
    return acting


class Clock:
    """A clock from now that the test moves."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
