"""The policy table: each role's verbs, where they reach, grants, and the auditor's limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from govlake.principal import Principal, ScopedRole
from services.identity.grants import Grant
from services.identity.organisations import OrgNode, OrgTree
from services.identity.policy import Setting, decide
from services.identity.roles import MATRIX, ROLE_VERBS, ROLES, VERBS

pytestmark = pytest.mark.unit

# shandong > jinan > {market_regulation, platform, tax}; shandong > qingdao > qingdao_tax
TREE = OrgTree(
    {
        n.code: n
        for n in (
            OrgNode("shandong", "山东省", "province", None),
            OrgNode("jinan", "济南市", "city", "shandong"),
            OrgNode("qingdao", "青岛市", "city", "shandong"),
            OrgNode("market_regulation", "市场监督管理局", "department", "jinan"),
            OrgNode("platform", "大数据管理中心", "department", "jinan"),
            OrgNode("tax", "税务局", "department", "jinan"),
            OrgNode("qingdao_tax", "青岛市税务局", "department", "qingdao"),
        )
    }
)


def _principal(*roles: tuple[str, str], organisation: str = "jinan") -> Principal:
    return Principal(1, "someone", "user", organisation, frozenset(ScopedRole(*r) for r in roles))


def _allowed(principal: Principal, verb: str, owner: str | None, granted=()) -> bool:  # noqa: ANN001
    setting = Setting(TREE, "platform", owner)
    return decide(principal, verb, "dataset:x.y", setting, granted).allowed


def test_the_matrix_has_a_row_per_role_and_a_column_per_verb() -> None:
    assert tuple(MATRIX) == ROLES
    assert all(len(row) == len(VERBS) for row in MATRIX.values())
    assert {verb for row in ROLE_VERBS.values() for verb in row} <= set(VERBS)


# role, scope, verb, owner of the securable, allowed
CASES = [
    # the catalog's rule: the owning department's steward reviews, the platform's publishes
    ("data_steward", "market_regulation", "review", "market_regulation", True),
    ("data_steward", "market_regulation", "review", "tax", False),
    ("data_steward", "market_regulation", "publish", "market_regulation", False),
    ("data_steward", "platform", "publish", "tax", True),
    ("data_steward", "platform", "publish", "qingdao_tax", True),
    ("data_steward", "platform", "review", "tax", False),
    # an organisation administrator: its subtree, not its siblings, not above it
    ("org_admin", "jinan", "administer", "market_regulation", True),
    ("org_admin", "jinan", "administer", "jinan", True),
    ("org_admin", "jinan", "administer", "qingdao_tax", False),
    ("org_admin", "jinan", "administer", "shandong", False),
    ("org_admin", "jinan", "read_data", "tax", True),
    ("org_admin", "jinan", "review", "tax", False),
    ("org_admin", "tax", "administer", "market_regulation", False),
    # the platform administrator administers everywhere, and reads no data, no audit
    ("platform_admin", "platform", "administer", "qingdao_tax", True),
    ("platform_admin", "platform", "approve_node", "tax", True),
    ("platform_admin", "platform", "read_data", "platform", False),
    ("platform_admin", "platform", "read_audit", None, False),
    ("platform_admin", "platform", "publish", "tax", False),
    # reading: metadata everywhere, data in one's subtree
    ("analyst", "tax", "read_metadata", "qingdao_tax", True),
    ("analyst", "tax", "read_data", "tax", True),
    ("analyst", "tax", "read_data", "market_regulation", False),
    ("data_engineer", "jinan", "read_data", "platform", True),
    ("data_engineer", "jinan", "deliver", "tax", False),
    # building (collect, derive, maintain): an engineer of the owner's subtree, no one else
    ("data_engineer", "jinan", "build", "tax", True),
    ("data_engineer", "tax", "build", "market_regulation", False),
    ("data_steward", "tax", "build", "tax", False),
    ("analyst", "tax", "build", "tax", False),
    ("platform_admin", "platform", "build", "tax", False),
    # exchange nodes
    ("exchange_operator", "jinan", "deliver", "tax", True),
    ("exchange_operator", "jinan", "approve_node", "tax", True),
    ("exchange_operator", "jinan", "deliver", "qingdao_tax", False),
    ("exchange_operator", "jinan", "read_data", "tax", False),
    # the auditor
    ("auditor", "platform", "read_audit", None, True),
    # the message service: the platform administrator, and the worker's service in the platform
    ("platform_admin", "platform", "send_messages", "platform", True),
    ("platform_admin", "platform", "read_messages", "platform", True),
    ("messenger", "platform", "send_messages", "platform", True),
    ("messenger", "platform", "read_messages", "platform", True),
    ("messenger", "platform", "read_data", "platform", False),
    ("messenger", "tax", "send_messages", "platform", False),
    ("org_admin", "jinan", "read_messages", "platform", False),
    ("auditor", "platform", "read_messages", "platform", False),
]


@pytest.mark.parametrize(("role", "scope", "verb", "owner", "expected"), CASES)
def test_role_table(role: str, scope: str, verb: str, owner: str | None, expected: bool) -> None:
    assert _allowed(_principal((role, scope)), verb, owner) is expected


@pytest.mark.parametrize("verb", [v for v in VERBS if v != "read_audit"])
def test_an_auditor_does_nothing_but_read_the_audit(verb: str) -> None:
    auditor = _principal(("auditor", "platform"))
    granted = [_grant(verb)]
    decision = decide(auditor, verb, "dataset:x.y", Setting(TREE, "platform", "platform"), granted)
    assert not decision.allowed
    assert decision.reason.endswith("an auditor reads the audit and nothing else")


def _grant(verb: str) -> Grant:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    return Grant(7, "someone", None, verb, "dataset:x.y", "zhang.wei", at)


def test_a_grant_adds_its_verb_and_says_so() -> None:
    analyst = _principal(("analyst", "tax"))
    assert not _allowed(analyst, "read_data", "market_regulation")
    decision = decide(
        analyst,
        "read_data",
        "dataset:x.y",
        Setting(TREE, "platform", "market_regulation"),
        [_grant("read_data")],
    )
    assert decision.allowed and decision.reason.endswith("by grant 7")


def test_nothing_without_a_role_or_an_unknown_verb() -> None:
    nobody = _principal()
    refused = decide(nobody, "read_metadata", "dataset:x.y", Setting(TREE, "platform", "tax"))
    assert not refused.allowed
    assert refused.reason == (
        "someone may not read_metadata dataset:x.y: no role (held: none) and no grant allow it"
    )
    analyst = _principal(("analyst", "tax"))
    unknown = decide(analyst, "delete", "dataset:x.y", Setting(TREE, "platform", "tax"))
    assert not unknown.allowed and "unknown verb" in unknown.reason


def test_a_role_in_an_organisation_no_longer_declared_reaches_nothing() -> None:
    stale = _principal(("org_admin", "gone"))
    assert not _allowed(stale, "administer", "tax")
    assert TREE.lineage("gone") == []
