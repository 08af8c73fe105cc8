"""The one policy check: may this principal do this verb on this securable?

Every command, API route and DAG task asks :func:`authorize` (or :func:`require`, which raises
:class:`AccessDenied`). The answer follows the table of :mod:`services.identity.roles`: a role
held over an organisation reaches what is owned in that organisation's subtree, or everywhere;
an explicit grant adds one verb on one securable. An auditor may read the audit and nothing
else, whatever else it is granted. Anything not allowed is refused, with a one-line reason;
every refusal :func:`require` raises is first written to the audit ledger (``access.denied``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from govlake.errors import GovlakeError
from govlake.principal import Principal
from govlake.runtime import Runtime
from services.identity import grants, trail
from services.identity.organisations import OrgTree
from services.identity.roles import (
    AUDITOR,
    EVERYWHERE,
    FROM_PLATFORM,
    ROLE_VERBS,
    SUBTREE,
    VERBS,
    Reach,
)
from services.identity.securables import Securable, UnknownSecurable, owner


@dataclass(frozen=True)
class Decision:
    """Whether a request is allowed, and why, in one line."""

    allowed: bool
    reason: str


class AccessDenied(GovlakeError):
    """A refused request; the message is the one-line reason."""


@dataclass(frozen=True)
class Setting:
    """Where the securable sits: the organisation tree, the platform department, its owner."""

    tree: OrgTree
    platform_department: str
    owner: str | None


def decide(
    principal: Principal,
    verb: str,
    securable: str,
    setting: Setting,
    granted: Sequence[grants.Grant] = (),
) -> Decision:
    """The decision of the table for ``principal``'s roles and the grants ``granted`` to it."""
    if verb not in VERBS:
        return _refused(principal, verb, securable, f"unknown verb; verbs: {', '.join(VERBS)}")
    if principal.holds(AUDITOR) and verb != "read_audit":
        return _refused(principal, verb, securable, "an auditor reads the audit and nothing else")
    for held in sorted(principal.roles):
        if _reaches(ROLE_VERBS.get(held.role, {}).get(verb), held.scope, setting):
            return Decision(True, f"{principal} may {verb} {securable} as {held}")
    if granted:
        return Decision(True, f"{principal} may {verb} {securable} by grant {granted[0].id}")
    roles = ", ".join(sorted(str(r) for r in principal.roles)) or "none"
    return _refused(principal, verb, securable, f"no role (held: {roles}) and no grant allow it")


def authorize(rt: Runtime, principal: Principal, verb: str, securable: str) -> Decision:
    """The decision for ``principal`` doing ``verb`` on ``securable``, with the platform's facts."""
    try:
        target = Securable.parse(securable)
        setting = Setting(
            OrgTree.of(rt.config), rt.config.catalog.platform_department, owner(rt, target)
        )
    except UnknownSecurable as exc:
        return _refused(principal, verb, securable, str(exc))
    lineage = setting.tree.lineage(principal.organisation)
    with rt.platform_db.connect() as conn:
        granted = grants.held(conn, principal, lineage, verb, str(target))
    return decide(principal, verb, str(target), setting, granted)


def require(rt: Runtime, principal: Principal, verb: str, securable: str) -> Decision:
    """The allowing decision, or :class:`AccessDenied` with the reason of the refusal.

    A refusal is recorded in the audit ledger (principal, verb, securable, reason) before it is
    raised; when it cannot be recorded, the audit's error is raised instead.
    """
    decision = authorize(rt, principal, verb, securable)
    if not decision.allowed:
        details = {"verb": verb, "reason": decision.reason}
        trail.write(rt, principal, "access.denied", securable, "refused", details)
        raise AccessDenied(decision.reason)
    return decision


def acting(rt: Runtime) -> Principal:
    """The principal ``rt`` acts as, or :class:`AccessDenied` when nobody is logged in."""
    if rt.principal is None:
        raise AccessDenied("nobody is logged in: run govlake login")
    return rt.principal


def _reaches(reach: Reach | None, scope: str, setting: Setting) -> bool:
    if reach is EVERYWHERE:
        return True
    if reach is FROM_PLATFORM:
        return scope == setting.platform_department
    if reach is SUBTREE:
        return setting.owner is not None and setting.tree.within(setting.owner, scope)
    return False


def _refused(principal: Principal, verb: str, securable: str, why: str) -> Decision:
    return Decision(False, f"{principal} may not {verb} {securable}: {why}")
