"""Login with username and password, token verification, logout and changing one's password.

A login is refused with the same message for an unknown username and a wrong password (and
takes as long). After ``lockout_after`` failures in a row the account is locked for ``lockout``
and its tokens are revoked; a login while locked is refused whatever the password, and the lock
lifts by itself when its time has passed. A token is accepted only while its user is active and
its generation is the user's current one: logout, a password change, a lock or a disable bump
the generation, so every token issued before is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from govlake.errors import GovlakeError
from govlake.principal import Principal
from govlake.runtime import Runtime
from services.identity import accounts, passwords, tokens
from services.identity.accounts import Account
from services.identity.settings import AuthSettings, Clock, utc_now
from services.identity.tokens import TokenRejected

WRONG = "wrong username or password"


class LoginRefused(GovlakeError):
    """A login refused: wrong credentials, a locked or a disabled account."""


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
    key, now = tokens.signing_key(), clock()
    with rt.platform_db.begin() as conn:
        outcome = _attempt(conn, accounts.find(conn, username), password, now, settings)
        if not isinstance(outcome, str):
            principal = accounts.principal(conn, outcome)
    if isinstance(outcome, str):
        raise LoginRefused(outcome)
    token, claims = tokens.issue(
        principal, outcome.token_generation, key=key, now=now, lifetime=settings.token_lifetime
    )
    return Session(token, principal, claims.expires_at)


def verify(rt: Runtime, token: str, *, clock: Clock = utc_now) -> Principal:
    """The principal ``token`` is a session of, or :class:`TokenRejected` saying why not."""
    now = clock()
    claims = tokens.read(token, key=tokens.signing_key(), now=now)
    with rt.platform_db.connect() as conn:
        account = accounts.find(conn, claims.username)
        if account is None or account.kind != "user":
            raise TokenRejected(f"token refused: no user {claims.username!r}")
        if account.status == "disabled" or account.locked(now):
            raise TokenRejected(f"token refused: user {account.username} is {account.status}")
        if claims.generation != account.token_generation:
            raise TokenRejected(
                "token refused: it was revoked (logout, password change or lock); log in again"
            )
        return accounts.principal(conn, account)


def logout(rt: Runtime, principal: Principal) -> None:
    """Revoke every token of ``principal``."""
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
    with rt.platform_db.begin() as conn:
        outcome = _attempt(conn, accounts.find(conn, principal.username), current, now, settings)
        if not isinstance(outcome, str):
            accounts.set_password(conn, outcome, new, now=now, history=settings.password_history)
    if isinstance(outcome, str):
        raise LoginRefused(outcome)


def _attempt(
    conn: sa.Connection,
    account: Account | None,
    password: str,
    now: datetime,
    settings: AuthSettings,
) -> Account | str:
    """The account ``password`` admits now (failures cleared), or why not (a failure counted)."""
    if account is None or account.password_hash is None:
        passwords.spend_equal_time(password)
        return WRONG
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
) -> str | None:
    """Why ``password`` does not admit ``account`` now (counting a failure), or ``None``."""
    if account.status == "disabled":
        return f"user {account.username} is disabled"
    if account.locked(now):
        until = f" until {account.locked_until:%Y-%m-%d %H:%M} UTC" if account.locked_until else ""
        return f"user {account.username} is locked{until}"
    if not passwords.matches(password_hash, password):
        if accounts.record_failure(conn, account) < settings.lockout_after:
            return WRONG
        lifted = now + settings.lockout
        accounts.set_status(conn, account, "locked", until=lifted)
        return f"{WRONG}; too many failures: the user is locked until {lifted:%H:%M} UTC"
    return None
