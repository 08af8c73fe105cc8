"""User and service accounts in the platform DB: creation, status, passwords, revocation.

Every statement is parameterised SQLAlchemy Core, so a username is only ever a value compared
with others. Setting a password applies the policy and the history (the last few hashes), and
bumps the account's token generation, as locking, disabling and logging out do: every token
issued before is refused from then on.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from govlake.errors import GovlakeError
from govlake.platform_db.schema import password_history, user
from govlake.principal import Principal, PrincipalKind
from services.identity import assignments, passwords
from services.identity.settings import as_utc

USERNAME = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")


@dataclass(frozen=True)
class Account:
    """One row of ``identity_user``; times are in UTC."""

    id: int
    username: str
    display_name: str
    kind: PrincipalKind
    organisation: str
    password_hash: str | None = field(repr=False)
    status: str
    failed_attempts: int
    locked_until: datetime | None
    password_changed_at: datetime | None
    token_generation: int

    def locked(self, now: datetime) -> bool:
        """Whether the account is locked at ``now`` (a lockout whose time has passed is not)."""
        return self.status == "locked" and (self.locked_until is None or self.locked_until > now)


def find(conn: sa.Connection, username: str) -> Account | None:
    """The account called ``username``, if any."""
    row = conn.execute(sa.select(user).where(user.c.username == username)).one_or_none()
    return None if row is None else _account(row._mapping)


def existing(conn: sa.Connection, username: str) -> Account:
    """The account called ``username``, or an error saying there is none."""
    account = find(conn, username)
    if account is None:
        raise GovlakeError(f"unknown user {username!r}")
    return account


def listed(conn: sa.Connection, organisations: Collection[str]) -> list[Account]:
    """The accounts of ``organisations``, by username."""
    query = sa.select(user).where(user.c.organisation.in_(organisations)).order_by(user.c.username)
    return [_account(row._mapping) for row in conn.execute(query)]


def create(
    conn: sa.Connection,
    *,
    username: str,
    display_name: str,
    kind: PrincipalKind,
    organisation: str,
    by: str,
    now: datetime,
) -> Account:
    """A new active account without a password, or an error if the name is taken or malformed."""
    if not USERNAME.match(username):
        raise GovlakeError(
            "a username has 3 to 64 characters: lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter"
        )
    if find(conn, username) is not None:
        raise GovlakeError(f"user {username!r} already exists")
    conn.execute(
        user.insert().values(
            username=username,
            display_name=display_name,
            kind=kind,
            organisation=organisation,
            status="active",
            failed_attempts=0,
            token_generation=0,
            created_at=now,
            created_by=by,
        )
    )
    return existing(conn, username)


def set_password(
    conn: sa.Connection, account: Account, password: str, *, now: datetime, history: int
) -> None:
    """Apply the policy, refuse the last ``history`` passwords, store the hash, revoke tokens."""
    if account.kind != "user":
        raise GovlakeError(f"{account.username} is a service principal: it has no password")
    passwords.check_policy(password, account.username)
    recent = conn.scalars(
        sa.select(password_history.c.password_hash)
        .where(password_history.c.user_id == account.id)
        .order_by(password_history.c.id.desc())
        .limit(history)
    ).all()
    if any(passwords.matches(h, password) for h in recent):
        raise passwords.PasswordRejected(
            f"the password must not be one of the last {history} passwords of the user"
        )
    digest = passwords.hash_password(password)
    _update(conn, account.id, password_hash=digest, password_changed_at=now, revoke=True)
    conn.execute(password_history.insert().values(user_id=account.id, password_hash=digest,
                                                  set_at=now))  # fmt: skip
    kept = sa.select(password_history.c.id).where(password_history.c.user_id == account.id)
    kept = kept.order_by(password_history.c.id.desc()).limit(history)
    conn.execute(
        password_history.delete().where(
            password_history.c.user_id == account.id, password_history.c.id.not_in(kept)
        )
    )


def rehash(conn: sa.Connection, account: Account, password: str) -> None:
    """Store ``password`` hashed with today's parameters (it was just verified)."""
    _update(conn, account.id, password_hash=passwords.hash_password(password))


def record_failure(conn: sa.Connection, account: Account) -> int:
    """Count one more failed login in a row; the count after it."""
    conn.execute(
        user.update()
        .where(user.c.id == account.id)
        .values(failed_attempts=user.c.failed_attempts + 1)
    )
    count = sa.select(user.c.failed_attempts).where(user.c.id == account.id)
    return int(conn.execute(count).scalar_one())


def clear_failures(conn: sa.Connection, account: Account) -> None:
    """A successful login: the count of failures starts again."""
    _update(conn, account.id, failed_attempts=0)


def set_status(
    conn: sa.Connection, account: Account, status: str, *, until: datetime | None = None
) -> None:
    """Make the account ``status`` (locked until ``until``, or until unlocked when ``None``).

    Locking and disabling revoke every token; unlocking and enabling clear the failure count.
    """
    _update(
        conn,
        account.id,
        status=status,
        locked_until=until,
        failed_attempts=0,
        revoke=status != "active",
    )


def revoke_tokens(conn: sa.Connection, account: Account) -> None:
    """Refuse every token issued to the account so far (logout)."""
    _update(conn, account.id, revoke=True)


def principal(conn: sa.Connection, account: Account) -> Principal:
    """The principal of ``account``, with the roles it holds now."""
    return Principal(
        id=account.id,
        username=account.username,
        kind=account.kind,
        organisation=account.organisation,
        roles=assignments.roles_of(conn, account.id),
    )


def _update(conn: sa.Connection, account_id: int, *, revoke: bool = False, **values: Any) -> None:
    if revoke:
        values["token_generation"] = user.c.token_generation + 1
    conn.execute(user.update().where(user.c.id == account_id).values(values))


def _account(row: sa.RowMapping) -> Account:
    return Account(
        id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        kind=row["kind"],
        organisation=row["organisation"],
        password_hash=row["password_hash"],
        status=row["status"],
        failed_attempts=row["failed_attempts"],
        locked_until=_utc(row["locked_until"]),
        password_changed_at=_utc(row["password_changed_at"]),
        token_generation=row["token_generation"],
    )


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)
