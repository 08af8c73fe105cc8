"""The principal value and the runtime that carries it."""

from __future__ import annotations

import dataclasses

import pytest

from govlake.config.project import ProjectConfig
from govlake.principal import Principal, ScopedRole
from govlake.runtime import Runtime

pytestmark = pytest.mark.unit


def test_a_principal_is_a_frozen_value() -> None:
    steward = Principal(3, "zhang.wei", "user", "market_regulation",
                        frozenset({ScopedRole("data_steward", "market_regulation")}))  # fmt: skip
    assert str(steward) == "zhang.wei" and steward.holds("data_steward")
    assert not steward.holds("auditor")
    assert str(ScopedRole("org_admin", "jinan")) == "org_admin@jinan"
    with pytest.raises(dataclasses.FrozenInstanceError):
        steward.username = "li.na"  # type: ignore[misc]


def test_acting_as_shares_what_is_opened_and_leaves_the_original(project: ProjectConfig) -> None:
    rt = Runtime(project)
    engine = rt.platform_db
    bot = Principal(9, "etl.bot", "service", "platform")
    acting = rt.acting_as(bot)
    assert acting.principal == bot and rt.principal is None
    assert acting.config is rt.config
    assert acting.platform_db is engine  # not opened and migrated again
    assert "lake" not in acting.__dict__  # opened on first use, as before
