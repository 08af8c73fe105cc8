"""Graded authorisation: assigning roles and granting verbs, never beyond one's own authority.

- A role over an organisation is assigned or revoked by whoever administers that organisation
  (an organisation administrator within its subtree); ``platform_admin`` and ``auditor`` reach
  everywhere, so only a platform administrator assigns them. The actor's authority must also
  cover every role the user holds already; no one changes their own roles; a service principal
  takes no administrative or audit role.
- Separation of duties: an auditor holds no other role, so ``auditor`` is refused beside any
  role, and any role beside ``auditor``.
- A grant of a verb on a securable is made by whoever administers the securable's owning
  organisation **and** may do that verb on it themselves: a grant never exceeds its grantor's
  own authority. ``administer`` and ``read_audit`` come with roles only; auditors get no grants.

Every assignment, revocation and grant, made or refused, is an audit row (``identity.*``).
"""

from __future__ import annotations

from govlake.errors import GovlakeError
from govlake.principal import Principal, ScopedRole
from govlake.runtime import Runtime
from services.identity import accounts, assignments, grants, organisations, trail
from services.identity.accounts import Account
from services.identity.grants import Grant
from services.identity.organisations import OrgTree
from services.identity.policy import AccessDenied, acting, authorize, require
from services.identity.roles import (
    AUDITOR,
    PEOPLE_ONLY,
    PLATFORM_ASSIGNED,
    ROLE_ONLY_VERBS,
    ROLES,
    VERBS,
)
from services.identity.securables import Securable
from services.identity.settings import Clock, utc_now
from services.identity.user_admin import require_manager


def assign_role(
    rt: Runtime, username: str, role: str, scope: str | None = None, *, clock: Clock = utc_now
) -> ScopedRole:
    """Give ``username`` ``role`` over ``scope`` (default: the user's organisation)."""
    with trail.audited(rt, "identity.role_assign", f"user:{username}", role=role, scope=scope):
        actor = acting(rt)
        account, held = _target(rt, actor, username, role, scope)
        with rt.platform_db.begin() as conn:
            _separated(assignments.roles_of(conn, account.id), held, account)
            assignments.add(conn, account.id, held, by=actor.username, now=clock())
        return held


def revoke_role(rt: Runtime, username: str, role: str, scope: str | None = None) -> ScopedRole:
    """Take ``role`` over ``scope`` (default: the user's organisation) from ``username``."""
    with trail.audited(rt, "identity.role_revoke", f"user:{username}", role=role, scope=scope):
        account, held = _target(rt, acting(rt), username, role, scope)
        with rt.platform_db.begin() as conn:
            if not assignments.remove(conn, account.id, held):
                raise GovlakeError(f"{username} does not hold {held}")
        return held


def grant(
    rt: Runtime,
    verb: str,
    securable: str,
    *,
    user: str | None = None,
    organisation: str | None = None,
    clock: Clock = utc_now,
) -> Grant:
    """Grant ``verb`` on ``securable`` to ``user`` or to every user of ``organisation``."""
    grantee = f"user:{user}" if user else f"organisation:{organisation}"
    with trail.audited(rt, "identity.grant", securable, verb=verb, grantee=grantee) as noted:
        actor = acting(rt)
        target = str(Securable.parse(securable))
        if verb not in VERBS or verb in ROLE_ONLY_VERBS:
            raise AccessDenied(f"{verb!r} cannot be granted: grantable verbs are {_grantable()}")
        _may_grant(rt, actor, verb, target)
        user_id = _grantee(rt, user, organisation)
        with rt.platform_db.begin() as conn:
            grant_id = grants.add(conn, user_id=user_id, organisation=organisation, verb=verb,
                                  securable=target, by=actor.username, now=clock())  # fmt: skip
            found = grants.find(conn, grant_id)
        assert found is not None
        noted["grant"] = found.id
        return found


def revoke_grant(rt: Runtime, grant_id: int) -> Grant:
    """Withdraw the grant ``grant_id``; only who administers the securable's owner may."""
    with trail.audited(rt, "identity.grant_revoke", f"grant:{grant_id}") as noted:
        actor = acting(rt)
        with rt.platform_db.connect() as conn:
            found = grants.find(conn, grant_id)
        if found is None:
            raise GovlakeError(f"there is no grant {grant_id}")
        noted.update(verb=found.verb, securable=found.securable, grantee=found.grantee)
        require(rt, actor, "administer", found.securable)
        with rt.platform_db.begin() as conn:
            grants.remove(conn, grant_id)
        return found


def listed_grants(rt: Runtime, securable: str | None = None) -> list[Grant]:
    """The grants on securables whose owner the principal administers (on ``securable`` only)."""
    actor = acting(rt)
    with rt.platform_db.connect() as conn:
        every = grants.listed(conn, None if securable is None else str(Securable.parse(securable)))
    return [g for g in every if authorize(rt, actor, "administer", g.securable).allowed]


def _target(
    rt: Runtime, actor: Principal, username: str, role: str, scope: str | None
) -> tuple[Account, ScopedRole]:
    """The account and the scoped role an assignment names, once the actor may assign it."""
    if role not in ROLES:
        raise GovlakeError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    tree = OrgTree.of(rt.config)
    organisations.sync(rt.platform_db, tree)
    account = require_manager(rt, actor, username)
    held = ScopedRole(role, scope or account.organisation)
    tree.node(held.scope)
    if role in PLATFORM_ASSIGNED and not actor.holds("platform_admin"):
        raise AccessDenied(f"{actor} may not assign {role}: only a platform administrator may")
    require(rt, actor, "administer", f"organisation:{held.scope}")
    if account.id == actor.id:
        raise AccessDenied(f"{actor} may not change their own roles")
    if account.kind == "service" and role in PEOPLE_ONLY:
        raise AccessDenied(f"{username} is a service principal: it may not hold {role}")
    return account, held


def _separated(current: frozenset[ScopedRole], new: ScopedRole, account: Account) -> None:
    """Refuse a role that would put the auditor beside another role."""
    others = sorted(str(r) for r in current if (r.role == AUDITOR) != (new.role == AUDITOR))
    if others:
        raise AccessDenied(
            f"separation of duties: an auditor holds no other role, and {account.username} "
            f"holds {', '.join(others)}"
        )


def _may_grant(rt: Runtime, actor: Principal, verb: str, securable: str) -> None:
    """Refuse a grant outside the actor's administration or beyond the actor's own verbs.

    ``administer`` on a securable is ``administer`` on the organisation that owns it.
    """
    require(rt, actor, "administer", securable)
    own = authorize(rt, actor, verb, securable)
    if not own.allowed:
        raise AccessDenied(f"a grant never exceeds its grantor's own authority: {own.reason}")


def _grantee(rt: Runtime, user: str | None, organisation: str | None) -> int | None:
    """The grantee's user id (``None`` for an organisation), once it may receive grants."""
    if (user is None) == (organisation is None):
        raise GovlakeError("a grant goes to one user or to one organisation")
    if organisation is not None:
        tree = OrgTree.of(rt.config)
        tree.node(organisation)
        organisations.sync(rt.platform_db, tree)
        return None
    with rt.platform_db.connect() as conn:
        account = accounts.existing(conn, str(user))
        if AUDITOR in {r.role for r in assignments.roles_of(conn, account.id)}:
            raise AccessDenied(f"{user} is an auditor: an auditor receives no grants")
    return account.id


def _grantable() -> str:
    return ", ".join(v for v in VERBS if v not in ROLE_ONLY_VERBS)
