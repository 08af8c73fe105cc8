"""Managing accounts: the first platform administrator, then everyone else.

Users are added, listed, locked, unlocked, disabled, enabled and given new passwords by whoever
administers their organisation: every function but :func:`bootstrap` acts as the runtime's
principal and first passes :func:`~services.identity.policy.require` (``administer`` on the
organisation concerned). A platform administrator reaches every organisation, an organisation
administrator its subtree; an account is managed only by someone whose authority covers every
role it holds (:func:`require_manager`). The last active platform administrator stays active.
Each of these changes, allowed or refused, is an audit row (``identity.*``); none is made when
the audit key is not configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from govlake.errors import GovlakeError
from govlake.principal import Principal, PrincipalKind, ScopedRole
from govlake.runtime import Runtime
from services.identity import accounts, assignments, organisations, trail
from services.identity.accounts import Account
from services.identity.organisations import OrgTree
from services.identity.policy import AccessDenied, acting, authorize, require
from services.identity.roles import PLATFORM_ASSIGNED
from services.identity.settings import AuthSettings, Clock, utc_now

BOOTSTRAP = "govlake admin init"
ALREADY_BOOTSTRAPPED = "a platform administrator exists already: log in as one to add users"
# change -> (the statuses it applies to, the status it leads to)
STATUS_CHANGES: dict[str, tuple[tuple[str, ...], str]] = {
    "lock": (("active", "locked"), "locked"),
    "unlock": (("locked",), "active"),
    "disable": (("active", "locked"), "disabled"),
    "enable": (("disabled",), "active"),
}


@dataclass(frozen=True)
class NewAccount:
    """What an account is created with; services have no password."""

    username: str
    display_name: str
    organisation: str
    kind: PrincipalKind = "user"
    password: str | None = None


def bootstrapped(rt: Runtime) -> bool:
    """Whether a platform administrator exists."""
    with rt.platform_db.connect() as conn:
        return bool(assignments.holders(conn, "platform_admin"))


def bootstrap(
    rt: Runtime,
    new: NewAccount,
    *,
    settings: AuthSettings | None = None,
    clock: Clock = utc_now,
) -> Principal:
    """Create the first platform administrator; refused once one exists."""
    settings = settings or AuthSettings.from_env()
    with trail.audited(rt, "identity.admin_init", f"user:{new.username}", BOOTSTRAP):
        tree = _synced_tree(rt)
        tree.node(new.organisation)
        now = clock()
        with rt.platform_db.begin() as conn:
            if assignments.holders(conn, "platform_admin"):
                raise GovlakeError(ALREADY_BOOTSTRAPPED)
            account = _create(conn, new, by=BOOTSTRAP, now=now, settings=settings)
            role = ScopedRole("platform_admin", new.organisation)
            assignments.add(conn, account.id, role, by=BOOTSTRAP, now=now)
            return accounts.principal(conn, account)


def add_user(
    rt: Runtime, new: NewAccount, *, settings: AuthSettings | None = None, clock: Clock = utc_now
) -> Account:
    """Create a user (with its first password) or a service principal (without one)."""
    settings = settings or AuthSettings.from_env()
    added = {"kind": new.kind, "organisation": new.organisation}
    with trail.audited(rt, "identity.user_add", f"user:{new.username}", **added):
        actor = acting(rt)
        tree = _synced_tree(rt)
        tree.node(new.organisation)
        require(rt, actor, "administer", f"organisation:{new.organisation}")
        now = clock()
        with rt.platform_db.begin() as conn:
            return _create(conn, new, by=actor.username, now=now, settings=settings)


def users(rt: Runtime, organisation: str | None = None) -> list[Account]:
    """The accounts of the organisations the principal administers (of ``organisation`` only)."""
    actor = acting(rt)
    tree = OrgTree.of(rt.config)
    if organisation is not None:
        tree.node(organisation)
    codes = [n.code for n in tree if organisation in (None, n.code)]
    visible = [c for c in codes if authorize(rt, actor, "administer", f"organisation:{c}").allowed]
    if not visible:
        raise AccessDenied(f"{actor} administers no organisation to list users of")
    with rt.platform_db.connect() as conn:
        return accounts.listed(conn, visible)


def change_status(rt: Runtime, username: str, change: str) -> Account:
    """``lock`` (until unlocked), ``unlock``, ``disable`` or ``enable`` the account ``username``.

    Locking and disabling revoke its tokens. The last platform administrator stays active.
    """
    applies_to, status = STATUS_CHANGES[change]
    with trail.audited(rt, f"identity.user_{change}", f"user:{username}"):
        account = require_manager(rt, acting(rt), username)
        if account.status not in applies_to:
            raise GovlakeError(f"{username} is {account.status}: there is nothing to {change}")
        with rt.platform_db.begin() as conn:
            if status != "active" and assignments.sole_active_holder(
                conn, "platform_admin", account.id
            ):
                raise AccessDenied(
                    f"{username} is the last platform administrator: it stays active"
                )
            accounts.set_status(conn, account, status)
            return accounts.existing(conn, username)


def reset_password(
    rt: Runtime,
    username: str,
    password: str,
    *,
    settings: AuthSettings | None = None,
    clock: Clock = utc_now,
) -> None:
    """Give ``username`` a new password (the policy applies) and revoke its tokens."""
    settings = settings or AuthSettings.from_env()
    with trail.audited(rt, "identity.password_reset", f"user:{username}"):
        account = require_manager(rt, acting(rt), username)
        with rt.platform_db.begin() as conn:
            accounts.set_password(
                conn, account, password, now=clock(), history=settings.password_history
            )


def require_manager(rt: Runtime, actor: Principal, username: str) -> Account:
    """The account ``username`` once ``actor``'s authority covers all of the account's.

    The actor administers the account's organisation and the scope of every role it holds, and
    only a platform administrator manages an account holding a role that reaches everywhere:
    otherwise a lower administrator could take over a higher one's account.
    """
    with rt.platform_db.connect() as conn:
        account = accounts.existing(conn, username)
        held = assignments.roles_of(conn, account.id)
    if any(r.role in PLATFORM_ASSIGNED for r in held) and not actor.holds("platform_admin"):
        raise AccessDenied(f"{actor} may not manage {username}: only a platform administrator may")
    for scope in sorted({account.organisation} | {r.scope for r in held}):
        require(rt, actor, "administer", f"organisation:{scope}")
    return account


def _synced_tree(rt: Runtime) -> OrgTree:
    tree = OrgTree.of(rt.config)
    organisations.sync(rt.platform_db, tree)
    return tree


def _create(
    conn: sa.Connection, new: NewAccount, *, by: str, now: datetime, settings: AuthSettings
) -> Account:
    """The account of ``new``; a user gets its first password, a service none."""
    if new.kind == "service" and new.password is not None:
        raise GovlakeError("a service principal has no password")
    if new.kind == "user" and not new.password:
        raise GovlakeError(f"user {new.username} needs a first password")
    account = accounts.create(
        conn,
        username=new.username,
        display_name=new.display_name,
        kind=new.kind,
        organisation=new.organisation,
        by=by,
        now=now,
    )
    if new.password is not None:
        accounts.set_password(
            conn, account, new.password, now=now, history=settings.password_history
        )
    return accounts.existing(conn, new.username)
