"""Who a message goes to: recipient specs, resolved to people by the identity service.

A spec names people in one of four ways, resolved when the message is made (so a role given
or taken afterwards changes nothing already sent):

- ``user:<username>``: that user;
- ``org:<code>``: every person of that organisation;
- ``role:<role>@<scope>``: every holder of that role over that organisation;
- ``may:<verb>@<securable>``: everyone the policy lets do ``verb`` on ``securable`` (the next
  handler of a step, say ``may:accept@catalog:GL-000004``).

Only active people (accounts of kind ``user``) receive messages: services and locked or
disabled accounts are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from govlake.errors import GovlakeError
from govlake.platform_db.schema import grant, role_assignment, user
from govlake.runtime import Runtime
from services.identity import accounts
from services.identity.policy import authorize
from services.identity.roles import ROLE_VERBS

FORMS = "user:<username>, org:<code>, role:<role>@<scope> or may:<verb>@<securable>"


@dataclass(frozen=True)
class Person:
    """A recipient: a user and where they sit."""

    id: int
    username: str
    display_name: str
    organisation: str


def resolve(rt: Runtime, specs: Iterable[str]) -> list[Person]:
    """The active people ``specs`` name, each once, by username."""
    found: dict[str, Person] = {}
    for spec in specs:
        kind, _, name = spec.partition(":")
        if not name or kind not in _CANDIDATES:
            raise GovlakeError(f"recipient {spec!r} is not one of {FORMS}")
        with rt.platform_db.connect() as conn:
            candidates = _CANDIDATES[kind](conn, name)
        if kind == "may":  # who may is the policy's answer: each candidate is asked
            candidates = [p for p in candidates if _may(rt, p, name)]
        for person in candidates:
            found.setdefault(person.username, person)
    return sorted(found.values(), key=lambda p: p.username)


def _people(conn: sa.Connection, *where: sa.ColumnElement[bool]) -> list[Person]:
    query = sa.select(user.c.id, user.c.username, user.c.display_name, user.c.organisation)
    query = query.where(user.c.kind == "user", user.c.status == "active", *where)
    return [Person(r.id, r.username, r.display_name, r.organisation) for r in conn.execute(query)]


def _user(conn: sa.Connection, name: str) -> list[Person]:
    return _people(conn, user.c.username == name)


def _organisation(conn: sa.Connection, code: str) -> list[Person]:
    return _people(conn, user.c.organisation == code)


def _role(conn: sa.Connection, held: str) -> list[Person]:
    role, _, scope = held.partition("@")
    if not scope:
        raise GovlakeError(f"recipient 'role:{held}' needs a scope: role:<role>@<scope>")
    holders = sa.select(role_assignment.c.user_id).where(
        role_assignment.c.role == role, role_assignment.c.scope == scope
    )
    return _people(conn, user.c.id.in_(holders))


def _candidates_for(conn: sa.Connection, asked: str) -> list[Person]:
    """Holders of a role with the verb, and grantees of the verb on the securable."""
    verb, _, securable = asked.partition("@")
    if not securable:
        raise GovlakeError(f"recipient 'may:{asked}' needs a securable: may:<verb>@<securable>")
    roles = [role for role, verbs in ROLE_VERBS.items() if verb in verbs]
    by_role = sa.select(role_assignment.c.user_id).where(role_assignment.c.role.in_(roles))
    granted = (grant.c.verb == verb, grant.c.securable == securable)
    by_grant = sa.select(grant.c.grantee_user).where(*granted, grant.c.grantee_user.is_not(None))
    orgs = sa.select(grant.c.grantee_organisation).where(
        *granted, grant.c.grantee_organisation.is_not(None)
    )
    return _people(
        conn,
        sa.or_(user.c.id.in_(by_role), user.c.id.in_(by_grant), user.c.organisation.in_(orgs)),
    )


def _may(rt: Runtime, person: Person, asked: str) -> bool:
    verb, _, securable = asked.partition("@")
    with rt.platform_db.connect() as conn:
        principal = accounts.principal(conn, accounts.existing(conn, person.username))
    return authorize(rt, principal, verb, securable).allowed


_CANDIDATES = {
    "user": _user,
    "org": _organisation,
    "role": _role,
    "may": _candidates_for,
}
