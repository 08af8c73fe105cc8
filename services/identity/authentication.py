"""Login with username and password, token verification, logout and changing one's password.

A login is refused with the same message for an unknown username and a wrong password (and
takes as long). After ``lockout_after`` failures in a row the account is locked for ``lockout``
and its tokens are revoked; a login while locked is refused whatever the password, and the lock
lifts by itself when its time has passed. A token is accepted only while its user is active and
its generation is the user's current one: logout, a password change, a lock or a disable bump
the generation, so every token issued before is refused.

Every login (its success or refusal), the lockout it engages, every refused token (its reason,
never the token), every logout and password change is an audit row (:mod:`~services.identity.
trail`); without the audit key configured none of them is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from govlake.errors import GovlakeError
from govlake.principal import Principal
from govlake.runtime import Runtime
from services.identity import accounts, passwords, tokens, trail
from services.identity.accounts import Account
from services.identity.settings import AuthSettings, Clock, utc_now
from services.identity.tokens import TokenRejected

WRONG = "wrong username or password"


class LoginRefused(GovlakeError):
    """A login refused: wrong credentials, a locked or a disabled account."""


@dataclass(frozen=True)
class Refusal:
    """Why a password did not admit an account; ``locked_until`` when it engaged the lockout."""

    reason: str
    locked_until: datetime | None = None


@dataclass(frozen=True)
class Session:
    """A successful login: the signed token, who it is for, and when it expires."""

    token: str
    principal: Principal
    expires_at: datetime


def login(
    rt: Runtime,
    username: str,
    password: str,
    *,
    settings: AuthSettings | None = None,
    clock: Clock = utc_now,
) -> Session:
    """A session for ``username``, or :class:`LoginRefused` saying why not.

    ``settings`` default to :meth:`AuthSettings.from_env`.
    """
    settings = settings or AuthSettings.from_env()
    trail.ready()
    key, now = tokens.signing_key(), clock()
    with rt.platform_db.begin() as conn:
        outcome = _attempt(conn, accounts.find(conn, username), password, now, settings)
        if not isinstance(outcome, Refusal):
            principal = accounts.principal(conn, outcome)
    if isinstance(outcome, Refusal):
        _refused(rt, username, "auth.login", outcome)
        raise LoginRefused(outcome.reason)
    token, claims = tokens.issue(
        principal, outcome.token_generation, key=key, now=now, lifetime=settings.token_lifetime
    )
    expires = {"token_id": claims.token_id, "expires_at": f"{claims.expires_at:%Y-%m-%dT%H:%M}Z"}
    trail.write(rt, principal, "auth.login", f"user:{principal}", "success", expires)
    return Session(token, principal, claims.expires_at)


def verify(
    rt: Runtime, token: str, *, clock: Clock = utc_now, client: str | None = None
) -> Principal:
    """The principal ``token`` is a session of, or :class:`TokenRejected` saying why not.

    A refusal is recorded (``auth.token``: the claimed user when the token could be read, the
    reason, the ``client`` address) before it is raised; the token itself never is.
    """
    trail.ready()
    now = clock()
    try:
        claims = tokens.read(token, key=tokens.signing_key(), now=now)
        with rt.platform_db.connect() as conn:
            account = _admitted(accounts.find(conn, claims.username), claims, now)
            return accounts.principal(conn, account)
    except TokenRejected as exc:
        who = exc.username
        details = {"reason": str(exc)}
        target = f"user:{who}" if who else "token"
        trail.write(rt, who, "auth.token", target, "refused", details, client=client)
        raise


def _admitted(account: Account | None, claims: tokens.Claims, now: datetime) -> Account:
    """The token's account, unless its user is unknown, disabled, locked, or has revoked it."""
    name = claims.username
    if account is None or account.kind != "user":
        raise TokenRejected(f"token refused: no user {name!r}", name)
    if account.status == "disabled" or account.locked(now):
        raise TokenRejected(f"token refused: user {name} is {account.status}", name)
    if claims.generation != account.token_generation:
        raise TokenRejected(
            "token refused: it was revoked (logout, password change or lock); log in again", name
        )
    return account


def logout(rt: Runtime, principal: Principal) -> None:
    """Revoke every token of ``principal``."""
    with trail.audited(rt, "auth.logout", f"user:{principal}", principal):
        with rt.platform_db.begin() as conn:
            accounts.revoke_tokens(conn, accounts.existing(conn, principal.username))


def change_password(
    rt: Runtime,
    principal: Principal,
    current: str,
    new: str,
    *,
    settings: AuthSettings | None = None,
    clock: Clock = utc_now,
) -> None:
    """Set ``principal``'s password to ``new`` once ``current`` is verified as a login is.

    A wrong ``current`` counts as a failed login. Every token is revoked afterwards.
    """
    settings = settings or AuthSettings.from_env()
    now = clock()
    with trail.audited(rt, "auth.password_change", f"user:{principal}", principal):
        with rt.platform_db.begin() as conn:
            account = accounts.find(conn, principal.username)
            outcome = _attempt(conn, account, current, now, settings)
            if not isinstance(outcome, Refusal):
                history = settings.password_history
                accounts.set_password(conn, outcome, new, now=now, history=history)
        if isinstance(outcome, Refusal):
            if outcome.locked_until is not None:
                _locked(rt, principal.username, outcome.locked_until)
            raise LoginRefused(outcome.reason)


def _refused(rt: Runtime, username: str, action: str, refusal: Refusal) -> None:
    """Record a refused login, then the lockout it engaged, if it did."""
    trail.write(rt, username, action, f"user:{username}", "refused", {"reason": refusal.reason})
    if refusal.locked_until is not None:
        _locked(rt, username, refusal.locked_until)


def _locked(rt: Runtime, username: str, until: datetime) -> None:
    details = {"reason": "too many failed logins in a row", "until": f"{until:%Y-%m-%dT%H:%M}Z"}
    trail.write(rt, username, "auth.lockout", f"user:{username}", "success", details)


def _attempt(
    conn: sa.Connection,
    account: Account | None,
    password: str,
    now: datetime,
    settings: AuthSettings,
) -> Account | Refusal:
    """The account ``password`` admits now (failures cleared), or why not (a failure counted)."""
    if account is None or account.password_hash is None:
        passwords.spend_equal_time(password)
        return Refusal(WRONG)
    refusal = _refusal(conn, account, account.password_hash, password, now, settings)
    if refusal is not None:
        return refusal
    if account.status == "locked":
        accounts.set_status(conn, account, "active")  # its lockout time has passed
    elif account.failed_attempts:
        accounts.clear_failures(conn, account)
    if passwords.needs_rehash(account.password_hash):
        accounts.rehash(conn, account, password)
    return account


def _refusal(
    conn: sa.Connection,
    account: Account,
    password_hash: str,
    password: str,
    now: datetime,
    settings: AuthSettings,
) -> Refusal | None:
    """Why ``password`` does not admit ``account`` now (counting a failure), or ``None``."""
    if account.status == "disabled":
        return Refusal(f"user {account.username} is disabled")
    if account.locked(now):
        until = f" until {account.locked_until:%Y-%m-%d %H:%M} UTC" if account.locked_until else ""
        return Refusal(f"user {account.username} is locked{until}")
    if not passwords.matches(password_hash, password):
        if accounts.record_failure(conn, account) < settings.lockout_after:
            return Refusal(WRONG)
        lifted = now + settings.lockout
        accounts.set_status(conn, account, "locked", until=lifted)
        why = f"{WRONG}; too many failures: the user is locked until {lifted:%H:%M} UTC"
        return Refusal(why, lifted)
    return None
