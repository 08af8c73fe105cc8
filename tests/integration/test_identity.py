"""Identity on the real platform DB, SQLite and PostgreSQL: login, tokens, lockout, passwords,
graded authorisation, separation of duties, and the commands with their token file.

Every test runs once on a SQLite file and once in a fresh schema of the local PostgreSQL. The
clock is injected: the lockout and the token lifetime are crossed without sleeping.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from apps.cli.main import app
from govlake.errors import GovlakeError
from govlake.platform_db.schema import audit_event, user
from govlake.principal import Principal
from govlake.runtime import Runtime
from services import audit
from services.identity import accounts, authentication, delegation, user_admin
from services.identity.authentication import LoginRefused
from services.identity.passwords import PasswordRejected
from services.identity.policy import AccessDenied, authorize
from services.identity.roles import VERBS
from services.identity.settings import AuthSettings
from services.identity.tokens import TokenRejected
from services.identity.user_admin import NewAccount

pytestmark = pytest.mark.integration

KEY = "a-signing-key-for-these-tests-only-long-enough-for-hs512-too-0123456789"
ADMIN, ADMIN_PASSWORD = "admin", "Platform-Chief-2030"
PASSWORD = "Correct-Horse-Battery-42"
SETTINGS = AuthSettings()  # 5 failures, 15 minutes, 8 hours, 5 passwords
# The shipped tree, and a second city beside it.
TREE = """\
organisations:
  - {code: shandong, name: 山东省, level: province}
  - {code: jinan, name: 济南市, level: city, parent: shandong}
  - {code: qingdao, name: 青岛市, level: city, parent: shandong}
departments:
  - {code: market_regulation, name: 市场监督管理局, parent: jinan, stewards: [zhang.wei]}
  - {code: platform, name: 大数据管理中心, parent: jinan, stewards: [li.na]}
  - {code: human_resources, name: 人力资源和社会保障局, parent: jinan}
  - {code: tax, name: 税务局, parent: jinan}
  - {code: credit_center, name: 公共信用信息中心, parent: jinan}
  - {code: qingdao_tax, name: 青岛市税务局, parent: qingdao}
"""
INJECTIONS = [
    "admin' OR '1'='1",
    "admin'--",
    "'; DROP TABLE identity_user; --",
    'admin" OR ""="',
]


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(params=["sqlite", "postgresql"])
def rt(
    request: pytest.FixtureRequest, full_conf_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Runtime:
    """A runtime on the shipped conf with a second city, its platform DB on each server."""
    (full_conf_dir / "departments.yaml").write_text(TREE, encoding="utf-8")
    monkeypatch.setenv("GOVLAKE_TOKEN_KEY", KEY)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(full_conf_dir.parent / "config"))
    for name in ("GOVLAKE_ADMIN_PASSWORD", "AIRFLOW_CONN_GOVLAKE_TOKENS", "GOVLAKE_LOCKOUT_AFTER"):
        monkeypatch.delenv(name, raising=False)
    if request.param == "postgresql":
        engine, schema = request.getfixturevalue("postgres_schema")
        url = engine.url.render_as_string(hide_password=False)
        monkeypatch.setenv(
            "AIRFLOW_CONN_GOVLAKE_PLATFORM", f"{url}?options=-csearch_path%3D{schema}"
        )
    runtime = Runtime.load(full_conf_dir)
    assert runtime.platform_db.dialect.name == request.param
    return runtime


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def admin(rt: Runtime, clock: Clock) -> Runtime:
    """The runtime acting as the first platform administrator."""
    principal = user_admin.bootstrap(
        rt, NewAccount(ADMIN, "平台管理员", "platform", password=ADMIN_PASSWORD), clock=clock
    )
    return rt.acting_as(principal)


@pytest.fixture
def add(admin: Runtime, clock: Clock) -> Callable[..., Principal]:
    """Add a user with roles (``role`` or ``role@scope``) as the administrator."""

    def add_user(
        username: str, organisation: str, *roles: str, password: str = PASSWORD
    ) -> Principal:
        new = NewAccount(username, username, organisation, password=password)
        user_admin.add_user(admin, new, settings=SETTINGS, clock=clock)
        for role in roles:
            name, _, scope = role.partition("@")
            delegation.assign_role(admin, username, name, scope or None, clock=clock)
        return _principal(admin, username)

    return add_user


def _principal(rt: Runtime, username: str) -> Principal:
    with rt.platform_db.connect() as conn:
        return accounts.principal(conn, accounts.existing(conn, username))


def _login(rt: Runtime, clock: Clock, username: str, password: str = PASSWORD) -> str:
    return authentication.login(rt, username, password, settings=SETTINGS, clock=clock).token


def _claims(token: str) -> dict[str, object]:
    """The claims of a token of the 2030 clock, its signature checked."""
    return jwt.decode(
        token, KEY, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
    )


def _refused_token(rt: Runtime, clock: Clock, token: str) -> str:
    with pytest.raises(TokenRejected) as refused:
        authentication.verify(rt, token, clock=clock)
    return str(refused.value)


def _refused_login(rt: Runtime, clock: Clock, username: str, password: str) -> str:
    with pytest.raises(LoginRefused) as refused:
        authentication.login(rt, username, password, settings=SETTINGS, clock=clock)
    return str(refused.value)


# -- authentication -------------------------------------------------------------------------------


def test_login_gives_a_signed_token_of_the_user(
    rt: Runtime, clock: Clock, add: Callable[..., Principal]
) -> None:
    zhang = add("zhang.wei", "market_regulation", "data_steward")
    session = authentication.login(rt, "zhang.wei", PASSWORD, settings=SETTINGS, clock=clock)
    assert jwt.get_unverified_header(session.token)["alg"] == "HS256"
    claims = _claims(session.token)
    assert set(claims) == {"iss", "sub", "org", "roles", "gen", "jti", "iat", "exp"}
    assert (claims["sub"], claims["org"], claims["roles"]) == (
        "zhang.wei",
        "market_regulation",
        ["data_steward@market_regulation"],
    )
    assert claims["exp"] - claims["iat"] == 8 * 3600
    assert session.expires_at == clock.now + timedelta(hours=8)
    assert authentication.verify(rt, session.token, clock=clock) == session.principal == zhang
    assert _login(rt, clock, "zhang.wei") != session.token  # a new jti each time


def test_wrong_password_and_unknown_user_get_the_same_answer(
    rt: Runtime, clock: Clock, add: Callable[..., Principal]
) -> None:
    add("zhang.wei", "market_regulation")
    assert (
        _refused_login(rt, clock, "zhang.wei", "Wrong-Password-42") == "wrong username or password"
    )
    assert _refused_login(rt, clock, "nobody", PASSWORD) == "wrong username or password"


def test_a_service_principal_cannot_log_in(rt: Runtime, admin: Runtime, clock: Clock) -> None:
    user_admin.add_user(admin, NewAccount("exchange.node", "node", "tax", "service"))
    assert _refused_login(rt, clock, "exchange.node", "") == "wrong username or password"
    with pytest.raises(AccessDenied, match="service principal: it may not hold org_admin"):
        delegation.assign_role(admin, "exchange.node", "org_admin")
    delegation.assign_role(admin, "exchange.node", "exchange_operator")


def test_lockout_engages_at_the_fifth_failure_and_lifts_after_the_cooldown(
    rt: Runtime, clock: Clock, add: Callable[..., Principal]
) -> None:
    add("zhang.wei", "market_regulation")
    before = _login(rt, clock, "zhang.wei")
    for _ in range(4):
        assert _refused_login(rt, clock, "zhang.wei", "Wrong-Password-42") == (
            "wrong username or password"
        )
    assert _login(rt, clock, "zhang.wei")  # a success starts the count again
    for _ in range(4):
        _refused_login(rt, clock, "zhang.wei", "Wrong-Password-42")
    fifth = _refused_login(rt, clock, "zhang.wei", "Wrong-Password-42")
    assert (
        fifth == "wrong username or password; too many failures: the user is locked until 09:15 UTC"
    )
    clock.advance(minutes=14, seconds=59)
    assert _refused_login(rt, clock, "zhang.wei", PASSWORD) == (
        "user zhang.wei is locked until 2030-03-01 09:15 UTC"
    )
    assert _refused_token(rt, clock, before) == "token refused: user zhang.wei is locked"
    clock.advance(seconds=1)
    assert "revoked" in _refused_token(rt, clock, before)  # the lockout revoked it
    assert authentication.verify(rt, _login(rt, clock, "zhang.wei"), clock=clock).username == (
        "zhang.wei"
    )
    with rt.platform_db.connect() as conn:
        row = conn.execute(sa.select(user).where(user.c.username == "zhang.wei")).one()
    assert (row.status, row.failed_attempts) == ("active", 0)


def test_an_expired_token_is_refused(
    rt: Runtime, clock: Clock, add: Callable[..., Principal]
) -> None:
    add("zhang.wei", "market_regulation")
    token = _login(rt, clock, "zhang.wei")
    clock.advance(hours=7, minutes=59)
    authentication.verify(rt, token, clock=clock)
    clock.advance(minutes=1)
    assert _refused_token(rt, clock, token) == (
        "token refused: it expired at 2030-03-01 17:00 UTC; log in again"
    )


def _forged(payload: dict[str, object], header: dict[str, object], signature: bytes = b"") -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return ".".join(
        (part(json.dumps(header).encode()), part(json.dumps(payload).encode()), part(signature))
    )


def test_forged_tokens_are_refused(
    rt: Runtime, clock: Clock, add: Callable[..., Principal]
) -> None:
    add("zhang.wei", "market_regulation")
    token = _login(rt, clock, "zhang.wei")
    claims = _claims(token)
    other_key = jwt.encode(claims, "another-key-of-at-least-32-bytes-long!", algorithm="HS256")
    assert _refused_token(rt, clock, other_key) == "token refused: its signature does not match"
    header, _, signature = token.split(".")
    raised = _forged({**claims, "roles": ["platform_admin@platform"]}, {"alg": "HS256"})
    tampered = ".".join((header, raised.split(".")[1], signature))
    assert _refused_token(rt, clock, tampered) == "token refused: its signature does not match"
    assert "token refused" in _refused_token(rt, clock, "not.a.token")


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "HS512", "HS384"])
def test_other_algorithms_are_refused(
    rt: Runtime, clock: Clock, add: Callable[..., Principal], alg: str
) -> None:
    add("zhang.wei", "market_regulation")
    claims = _claims(_login(rt, clock, "zhang.wei"))
    if alg.startswith("HS"):
        token = jwt.encode(claims, KEY, algorithm=alg)  # the right key, the wrong algorithm
    else:
        token = _forged(claims, {"alg": alg, "typ": "JWT"})
    assert _refused_token(rt, clock, token) == "token refused: it is not signed with HS256"


@pytest.mark.parametrize(("change", "status"), [("lock", "locked"), ("disable", "disabled")])
def test_tokens_of_locked_or_disabled_users_are_refused(
    rt: Runtime,
    admin: Runtime,
    clock: Clock,
    add: Callable[..., Principal],
    change: str,
    status: str,
) -> None:
    add("zhang.wei", "market_regulation")
    token = _login(rt, clock, "zhang.wei")
    user_admin.change_status(admin, "zhang.wei", change)
    assert _refused_token(rt, clock, token) == f"token refused: user zhang.wei is {status}"
    assert _refused_login(rt, clock, "zhang.wei", PASSWORD).startswith(
        f"user zhang.wei is {status}"
    )
    user_admin.change_status(admin, "zhang.wei", "unlock" if change == "lock" else "enable")
    assert "revoked" in _refused_token(rt, clock, token)  # back to active: the old token stays dead
    authentication.verify(rt, _login(rt, clock, "zhang.wei"), clock=clock)


def test_logout_and_password_change_revoke_every_token(
    rt: Runtime, clock: Clock, add: Callable[..., Principal]
) -> None:
    zhang = add("zhang.wei", "market_regulation")
    first, second = _login(rt, clock, "zhang.wei"), _login(rt, clock, "zhang.wei")
    authentication.logout(rt, zhang)
    for token in (first, second):
        assert _refused_token(rt, clock, token) == (
            "token refused: it was revoked (logout, password change or lock); log in again"
        )
    third = _login(rt, clock, "zhang.wei")
    new = "Another-Horse-Battery-43"
    authentication.change_password(rt, zhang, PASSWORD, new, settings=SETTINGS, clock=clock)
    assert "revoked" in _refused_token(rt, clock, third)
    assert _refused_login(rt, clock, "zhang.wei", PASSWORD) == "wrong username or password"
    authentication.verify(rt, _login(rt, clock, "zhang.wei", new), clock=clock)


def test_a_wrong_current_password_counts_as_a_failed_login(
    rt: Runtime, clock: Clock, add: Callable[..., Principal]
) -> None:
    zhang = add("zhang.wei", "market_regulation")
    for _ in range(5):
        with pytest.raises(LoginRefused):
            authentication.change_password(
                rt, zhang, "Wrong-Password-42", "Another-Horse-43", settings=SETTINGS, clock=clock
            )
    assert _refused_login(rt, clock, "zhang.wei", PASSWORD).startswith("user zhang.wei is locked")


# -- the audit trail -----------------------------------------------------------------------------


def _trail(rt: Runtime, since: int = 0) -> list[tuple[str, str, str, str]]:
    """(action, principal, object, outcome) of the audit rows after row ``since``, oldest first."""
    return [
        (e.action, e.principal, e.object, e.outcome)
        for e in reversed(audit.events(rt, limit=1000))
        if e.id > since
    ]


def _head(rt: Runtime) -> int:
    return max((e.id for e in audit.events(rt, limit=1)), default=0)


def test_logins_lockouts_and_refusals_leave_audit_rows(
    rt: Runtime, clock: Clock, add: Callable[..., Principal]
) -> None:
    zhang = add("zhang.wei", "market_regulation")
    start = _head(rt)
    token = _login(rt, clock, "zhang.wei")
    _refused_login(rt, clock, "nobody", PASSWORD)
    for _ in range(5):
        _refused_login(rt, clock, "zhang.wei", "Wrong-Password-42")
    _refused_token(rt, clock, token)  # revoked by the lockout
    with pytest.raises(AccessDenied):
        delegation.assign_role(rt.acting_as(zhang), "zhang.wei", "data_steward")
    rows = _trail(rt, start)
    assert rows[:2] == [
        ("auth.login", "zhang.wei", "user:zhang.wei", "success"),
        ("auth.login", "nobody", "user:nobody", "refused"),
    ]
    assert rows[2:7] == [("auth.login", "zhang.wei", "user:zhang.wei", "refused")] * 5
    assert rows[7:] == [
        ("auth.lockout", "zhang.wei", "user:zhang.wei", "success"),
        ("auth.token", "zhang.wei", "user:zhang.wei", "refused"),
        ("access.denied", "zhang.wei", "organisation:market_regulation", "refused"),
        ("identity.role_assign", "zhang.wei", "user:zhang.wei", "refused"),
    ]
    denied, lockout = (
        audit.events(rt, action="access.denied")[0],
        audit.events(rt, action="auth.lockout")[0],
    )
    assert denied.details["verb"] == "administer"
    assert denied.details["reason"].startswith("zhang.wei may not administer")
    assert denied.organisation == "market_regulation"
    assert lockout.details["until"] == "2030-03-01T09:15Z"
    with rt.platform_db.connect() as conn:
        stored = " ".join(str(r) for r in conn.execute(sa.select(audit_event)))
    assert token not in stored and PASSWORD not in stored and "Wrong-Password" not in stored
    assert audit.verify(rt).ok


def test_forged_and_expired_tokens_are_audited_without_the_token(
    rt: Runtime, clock: Clock, add: Callable[..., Principal]
) -> None:
    add("zhang.wei", "market_regulation")
    token = _login(rt, clock, "zhang.wei")
    forged = jwt.encode(_claims(token), "another-key-of-at-least-32-bytes-long!", algorithm="HS256")
    start = _head(rt)
    _refused_token(rt, clock, forged)
    clock.advance(hours=9)
    _refused_token(rt, clock, token)
    assert _trail(rt, start) == [
        ("auth.token", "anonymous", "token", "refused"),
        ("auth.token", "zhang.wei", "user:zhang.wei", "refused"),
    ]
    expired, signature = audit.events(rt, action="auth.token", limit=2)
    assert signature.details == {"reason": "token refused: its signature does not match"}
    assert "expired" in expired.details["reason"]
    assert audit.verify(rt).ok


def test_administration_is_audited(
    rt: Runtime, admin: Runtime, clock: Clock, add: Callable[..., Principal]
) -> None:
    zhang = add("zhang.wei", "market_regulation", "data_steward")
    user_admin.change_status(admin, "zhang.wei", "lock")
    user_admin.change_status(admin, "zhang.wei", "unlock")
    user_admin.reset_password(admin, "zhang.wei", "Reset-Horse-Battery-44", clock=clock)
    given = delegation.grant(admin, "approve_node", "node:tax_bureau", user="zhang.wei")
    delegation.revoke_grant(admin, given.id)
    delegation.revoke_role(admin, "zhang.wei", "data_steward")
    authentication.logout(rt, zhang)
    rows = _trail(rt)
    assert rows[0] == ("identity.admin_init", "govlake admin init", "user:admin", "success")
    assert rows[1:] == [
        ("identity.user_add", ADMIN, "user:zhang.wei", "success"),
        ("identity.role_assign", ADMIN, "user:zhang.wei", "success"),
        ("identity.user_lock", ADMIN, "user:zhang.wei", "success"),
        ("identity.user_unlock", ADMIN, "user:zhang.wei", "success"),
        ("identity.password_reset", ADMIN, "user:zhang.wei", "success"),
        ("identity.grant", ADMIN, "node:tax_bureau", "success"),
        ("identity.grant_revoke", ADMIN, f"grant:{given.id}", "success"),
        ("identity.role_revoke", ADMIN, "user:zhang.wei", "success"),
        ("auth.logout", "zhang.wei", "user:zhang.wei", "success"),
    ]
    granted = audit.events(rt, action="identity.grant")[0]
    assert granted.details == {
        "verb": "approve_node", "grantee": "user:zhang.wei", "grant": given.id
    }  # fmt: skip
    assert audit.verify(rt).ok


def test_identity_fails_closed_without_the_audit_key(
    rt: Runtime, clock: Clock, add: Callable[..., Principal], monkeypatch: pytest.MonkeyPatch
) -> None:
    add("zhang.wei", "market_regulation")
    token = _login(rt, clock, "zhang.wei")
    monkeypatch.delenv("GOVLAKE_AUDIT_KEY")
    for attempt in (
        lambda: _login(rt, clock, "zhang.wei"),
        lambda: _login(rt, clock, "zhang.wei", "Wrong-Password-42"),
        lambda: authentication.verify(rt, token, clock=clock),
    ):
        with pytest.raises(GovlakeError, match="^no audit key: set GOVLAKE_AUDIT_KEY"):
            attempt()
    with rt.platform_db.connect() as conn:
        failures = conn.scalar(
            sa.select(user.c.failed_attempts).where(user.c.username == "zhang.wei")
        )
    assert failures == 0  # nothing was done that could not be recorded


# -- passwords ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("Short-42", "at least 12 characters"),
        ("alllowercaseandlong", "at least 3 of"),
        ("ZHANG.WEI-is-me-2030", "must not contain the username"),
    ],
)
def test_the_password_policy_applies_to_every_new_password(
    rt: Runtime,
    admin: Runtime,
    clock: Clock,
    add: Callable[..., Principal],
    password: str,
    rule: str,
) -> None:
    with pytest.raises(PasswordRejected, match=rule):
        add("zhang.wei", "market_regulation", password=password)
    zhang = add("zhang.wei", "market_regulation")
    with pytest.raises(PasswordRejected, match=rule):
        authentication.change_password(
            rt, zhang, PASSWORD, password, settings=SETTINGS, clock=clock
        )
    with pytest.raises(PasswordRejected, match=rule):
        user_admin.reset_password(admin, "zhang.wei", password, settings=SETTINGS, clock=clock)
    authentication.verify(rt, _login(rt, clock, "zhang.wei"), clock=clock)  # still the old one


def test_none_of_the_last_five_passwords_again(
    rt: Runtime, clock: Clock, add: Callable[..., Principal]
) -> None:
    zhang = add("zhang.wei", "market_regulation")
    used = [PASSWORD] + [f"Next-Password-{n}-of-five" for n in range(1, 6)]

    def change(current: str, new: str) -> None:
        authentication.change_password(rt, zhang, current, new, settings=SETTINGS, clock=clock)

    for current, new in zip(used[:4], used[1:5], strict=True):
        change(current, new)
    for again in used[:5]:  # the last five, the current one included
        with pytest.raises(PasswordRejected, match="one of the last 5 passwords"):
            change(used[4], again)
    change(used[4], used[5])
    change(used[5], PASSWORD)  # six changes ago: allowed again
    authentication.verify(rt, _login(rt, clock, "zhang.wei"), clock=clock)


def test_sql_injection_in_username_or_password_is_only_a_wrong_value(
    rt: Runtime, admin: Runtime, clock: Clock, add: Callable[..., Principal]
) -> None:
    add("zhang.wei", "market_regulation")
    for attempt in INJECTIONS:
        assert _refused_login(rt, clock, attempt, PASSWORD) == "wrong username or password"
        assert _refused_login(rt, clock, attempt, attempt) == "wrong username or password"
    for attempt in INJECTIONS[:3]:  # fewer than the lockout
        assert _refused_login(rt, clock, "zhang.wei", attempt) == "wrong username or password"
    with pytest.raises(Exception, match="a username has 3 to 64 characters"):
        user_admin.add_user(admin, NewAccount(INJECTIONS[0], "x", "tax", password=PASSWORD))
    quoted = "x' OR '1'='1'; DROP TABLE identity_user;--A1"
    add("li.na", "platform", password=quoted)
    assert authentication.login(rt, "li.na", quoted, settings=SETTINGS, clock=clock).token
    assert _refused_login(rt, clock, "li.na", "x' OR '1'='1") == "wrong username or password"
    with rt.platform_db.connect() as conn:
        names = set(conn.scalars(sa.select(user.c.username)))
    assert names == {ADMIN, "zhang.wei", "li.na"}


# -- graded authorisation -------------------------------------------------------------------------


def test_an_org_admin_manages_its_subtree_only(rt: Runtime, add: Callable[..., Principal]) -> None:
    city = rt.acting_as(add("jinan.admin", "jinan", "org_admin"))
    user_admin.add_user(city, NewAccount("tax.clerk", "clerk", "tax", password=PASSWORD))
    delegation.assign_role(city, "tax.clerk", "analyst")
    with pytest.raises(AccessDenied, match="may not administer organisation:qingdao_tax"):
        user_admin.add_user(city, NewAccount("qd.clerk", "clerk", "qingdao_tax", password=PASSWORD))
    add("qd.clerk", "qingdao_tax")
    with pytest.raises(AccessDenied, match="may not administer organisation:qingdao_tax"):
        user_admin.change_status(city, "qd.clerk", "lock")
    with pytest.raises(AccessDenied, match="may not administer organisation:shandong"):
        delegation.assign_role(city, "tax.clerk", "analyst", "shandong")
    with pytest.raises(AccessDenied, match="only a platform administrator may"):
        delegation.assign_role(city, "tax.clerk", "platform_admin")
    with pytest.raises(AccessDenied, match="may not change their own roles"):
        delegation.assign_role(city, "jinan.admin", "data_steward")
    # the platform department is in the city's subtree, its administrator is not in its reach
    assert [a.username for a in user_admin.users(city)] == [ADMIN, "jinan.admin", "tax.clerk"]
    for takeover in (
        lambda: user_admin.reset_password(city, ADMIN, "Taken-Over-Chief-2030"),
        lambda: user_admin.change_status(city, ADMIN, "lock"),
        lambda: delegation.assign_role(city, ADMIN, "analyst"),
    ):
        with pytest.raises(AccessDenied, match="only a platform administrator may"):
            takeover()
    # nor does a department's administrator manage a user holding authority above it
    tax = rt.acting_as(add("tax.admin", "tax", "org_admin"))
    add("tax.officer", "tax", "org_admin@jinan")
    with pytest.raises(AccessDenied, match="tax.admin may not administer organisation:jinan"):
        user_admin.reset_password(tax, "tax.officer", "Taken-Over-City-2030")


def test_an_org_admin_grants_neither_outside_its_subtree_nor_beyond_what_it_holds(
    rt: Runtime, add: Callable[..., Principal]
) -> None:
    market = rt.acting_as(add("market.admin", "market_regulation", "org_admin"))
    analyst = add("tax.analyst", "tax", "analyst")
    registry = "dataset:silver.enterprise_registry"  # owned by market regulation
    assert not authorize(rt, analyst, "read_data", registry).allowed
    given = delegation.grant(market, "read_data", registry, organisation="tax")
    assert given.grantee == "organisation:tax" and given.granted_by == "market.admin"
    assert authorize(rt, analyst, "read_data", registry).reason.endswith(f"by grant {given.id}")
    refusals = {
        # outside its subtree: human resources' dataset, the tax bureau's node
        ("read_data", "dataset:silver.social_insurance_payments"): "may not administer",
        ("deliver", "node:tax_bureau"): "may not administer",
        # beyond what it holds on its own dataset
        ("review", registry): "a grant never exceeds its grantor's own authority",
        ("publish", registry): "a grant never exceeds its grantor's own authority",
        # verbs that come with roles only
        ("administer", "organisation:market_regulation"): "cannot be granted",
        ("read_audit", "audit"): "cannot be granted",
    }
    for (verb, securable), reason in refusals.items():
        with pytest.raises(AccessDenied, match=reason):
            delegation.grant(market, verb, securable, user="tax.analyst")
    assert [g.id for g in delegation.listed_grants(market)] == [given.id]
    with pytest.raises(AccessDenied, match="may not administer"):
        delegation.revoke_grant(rt.acting_as(analyst), given.id)
    delegation.revoke_grant(market, given.id)
    assert not authorize(rt, analyst, "read_data", registry).allowed


def test_todays_catalog_rules_are_policy(rt: Runtime, add: Callable[..., Principal]) -> None:
    owner_steward = add("zhang.wei", "market_regulation", "data_steward")
    platform_steward = add("li.na", "platform", "data_steward")
    registry = "dataset:silver.enterprise_registry"
    assert authorize(rt, owner_steward, "review", registry).allowed
    assert not authorize(rt, owner_steward, "publish", registry).allowed
    assert authorize(rt, platform_steward, "publish", registry).allowed
    assert not authorize(rt, platform_steward, "review", registry).allowed
    unknown = authorize(rt, owner_steward, "review", "catalog:GL-999999")
    assert not unknown.allowed and unknown.reason.endswith("unknown catalog 'GL-999999'")


def test_an_auditor_is_never_an_administrator(
    admin: Runtime, add: Callable[..., Principal]
) -> None:
    add("org.admin", "tax", "org_admin")
    with pytest.raises(AccessDenied, match="separation of duties"):
        delegation.assign_role(admin, "org.admin", "auditor")
    add("auditor", "platform", "auditor")
    for role in ("platform_admin", "org_admin", "analyst"):
        with pytest.raises(AccessDenied, match="separation of duties"):
            delegation.assign_role(admin, "auditor", role)
    with pytest.raises(AccessDenied, match="an auditor receives no grants"):
        delegation.grant(admin, "approve_node", "node:tax_bureau", user="auditor")


def test_an_auditor_reads_the_audit_and_nothing_else(
    rt: Runtime, admin: Runtime, add: Callable[..., Principal]
) -> None:
    auditor = add("auditor", "platform", "auditor")
    delegation.grant(admin, "approve_node", "node:tax_bureau", organisation="platform")
    assert authorize(rt, auditor, "read_audit", "audit").allowed
    securables = (
        "audit",
        "organisation:platform",
        "dataset:gold.enterprise_credit_profile",
        "node:tax_bureau",
    )
    for verb in (v for v in VERBS if v != "read_audit"):
        for securable in securables:
            decision = authorize(rt, auditor, verb, securable)
            assert not decision.allowed, (verb, securable)
            assert decision.reason.endswith("an auditor reads the audit and nothing else")


def test_the_last_platform_administrator_stays(
    admin: Runtime, add: Callable[..., Principal]
) -> None:
    second = admin.acting_as(add("second.admin", "platform", "platform_admin"))
    with pytest.raises(AccessDenied, match="may not change their own roles"):
        delegation.revoke_role(admin, ADMIN, "platform_admin")
    delegation.revoke_role(second, ADMIN, "platform_admin")
    with pytest.raises(AccessDenied, match="second.admin is the last platform administrator"):
        user_admin.change_status(second, "second.admin", "disable")


# -- the commands ---------------------------------------------------------------------------------


def _govlake(rt: Runtime, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--conf", str(rt.config.conf_dir)], input=stdin)
    return result.exit_code, result.output


def test_admin_init_once_and_never_with_a_default_password(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = _govlake(rt, "admin", "init", stdin="Short-1\nShort-1\n")
    assert code == 1 and "Password for admin" in output
    assert "password must have at least 12 characters" in output and "Short-1" not in output
    monkeypatch.setenv("GOVLAKE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    assert _govlake(rt, "admin", "init") == (
        0,
        "admin: platform administrator (platform); next: govlake login admin\n",
    )
    code, output = _govlake(rt, "admin", "init", "--username", "another")
    assert code == 1
    assert "a platform administrator exists already" in output
    assert ADMIN_PASSWORD not in output


def test_the_token_file_is_private_and_refused_when_others_can_read_it(
    rt: Runtime, admin: Runtime
) -> None:
    code, output = _govlake(rt, "login", ADMIN, "--password-stdin", stdin=ADMIN_PASSWORD + "\n")
    assert code == 0, output
    token = Path(os.environ["XDG_CONFIG_HOME"]) / "govlake" / "token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert stat.S_IMODE(token.parent.stat().st_mode) == 0o700
    assert _govlake(rt, "whoami")[1].startswith("admin (user) of 大数据管理中心 (platform)")
    token.chmod(0o644)
    code, output = _govlake(rt, "whoami")
    assert code == 1 and "is open to other users (mode 0644): refused" in output
    token.chmod(0o600)
    assert _govlake(rt, "logout")[0] == 0
    assert not token.exists()
    code, output = _govlake(rt, "whoami")
    assert code == 1 and "not logged in: run govlake login" in output


def test_the_commands_check_the_logged_in_user(rt: Runtime, admin: Runtime) -> None:
    _govlake(rt, "login", ADMIN, "--password-stdin", stdin=ADMIN_PASSWORD + "\n")
    twice = f"{PASSWORD}\n{PASSWORD}\n"
    assert _govlake(rt, "users", "add", "tax.admin", "--org", "tax", stdin=twice)[0] == 0
    assert _govlake(rt, "users", "add", "hr.clerk", "--org", "human_resources", stdin=twice)[0] == 0
    assert _govlake(rt, "users", "grant-role", "tax.admin", "org_admin") == (
        0,
        "tax.admin: holds org_admin@tax\n",
    )
    _govlake(rt, "login", "tax.admin", "--password-stdin", stdin=PASSWORD + "\n")
    code, output = _govlake(rt, "users", "lock", "hr.clerk")
    assert code == 1 and "tax.admin may not administer organisation:human_resources" in output
    code, output = _govlake(rt, "users", "list")
    assert code == 0 and "tax.admin" in output and "hr.clerk" not in output
    code, output = _govlake(rt, "grants", "add", "read_data", "dataset:silver.enterprise_registry",
                            "--org", "tax")  # fmt: skip
    assert code == 1 and "may not administer dataset:silver.enterprise_registry" in output
    assert _govlake(rt, "orgs", "list")[0] == 0
    assert _govlake(rt, "logout")[0] == 0
    code, output = _govlake(rt, "users", "list")
    assert code == 1 and "not logged in" in output


# -- service principals ---------------------------------------------------------------------------


def test_services_are_what_conf_implies_and_tasks_act_as_them(
    rt: Runtime, admin: Runtime, add: Callable[..., Principal]
) -> None:
    from apps import tasks
    from services.identity.service_accounts import acting_service, sync

    ingest = "pipeline.market_registry_ingest"
    with pytest.raises(AccessDenied, match=f"service principal {ingest} does not exist"):
        tasks.build(str(rt.config.conf_dir), "bronze.enterprise_registry",
                    pipeline="market_registry_ingest", run_id="r1")  # fmt: skip
    add("tax.admin", "tax", "org_admin")
    org_admin = rt.acting_as(_principal(rt, "tax.admin"))
    with pytest.raises(AccessDenied, match="tax.admin may not administer organisation:platform"):
        sync(org_admin)  # the services live in the platform department
    done = {s.username: s for s in sync(admin)}
    assert done[ingest].created and [str(r) for r in done[ingest].assigned] == [
        "data_engineer@market_regulation"
    ]
    assert [str(r) for r in done["pipeline.credit_profile_publish"].assigned] == [
        "data_engineer@platform"
    ]
    assert [str(r) for r in done["node.tax_bureau"].assigned] == ["exchange_operator@tax"]
    assert [str(r) for r in done["notify.worker"].assigned] == ["messenger@platform"]
    assert not any(s.created or s.assigned or s.revoked for s in sync(admin))  # idempotent

    delegation.assign_role(admin, ingest, "analyst", "tax")
    (extra,) = [s for s in sync(admin) if s.revoked]
    assert (extra.username, [str(r) for r in extra.revoked]) == (ingest, ["analyst@tax"])

    service = acting_service(rt, ingest).principal
    assert service is not None and service.kind == "service"
    assert authorize(rt, service, "build", "dataset:bronze.enterprise_registry").allowed
    assert not authorize(rt, service, "build", "dataset:bronze.social_insurance_payments").allowed
    assert not authorize(
        rt, service, "read_data", "dataset:silver.social_insurance_payments"
    ).allowed
    with pytest.raises(LoginRefused, match="wrong username or password"):
        authentication.login(rt, ingest, "")

    user_admin.change_status(admin, ingest, "disable")
    with pytest.raises(AccessDenied, match=f"service principal {ingest} is disabled"):
        tasks.build(str(rt.config.conf_dir), "bronze.enterprise_registry",
                    pipeline="market_registry_ingest", run_id="r2")  # fmt: skip
    refused = audit.events(rt, action="auth.service")
    assert [(e.principal, e.outcome) for e in refused] == [(ingest, "refused")] * 2
    assert not rt.lake.exists("bronze.enterprise_registry")
