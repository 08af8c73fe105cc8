"""Grant rows: a verb on one securable, for a user or for every user of an organisation's subtree.

Only rows are read and written here; who may grant what is decided in
:mod:`services.identity.delegation`, and what a grant allows in :mod:`services.identity.policy`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from govlake.platform_db.schema import grant, user
from govlake.principal import Principal
from services.identity.settings import as_utc


@dataclass(frozen=True)
class Grant:
    """One grant: to ``user`` (a username) or to ``organisation``, never both."""

    id: int
    user: str | None
    organisation: str | None
    verb: str
    securable: str
    granted_by: str
    granted_at: datetime

    @property
    def grantee(self) -> str:
        """``user:<name>`` or ``organisation:<code>``."""
        return f"user:{self.user}" if self.user else f"organisation:{self.organisation}"


_COLUMNS = (
    grant.c.id,
    user.c.username.label("user"),
    grant.c.grantee_organisation.label("organisation"),
    grant.c.verb,
    grant.c.securable,
    grant.c.granted_by,
    grant.c.granted_at,
)
_GRANTS = sa.select(*_COLUMNS).select_from(grant.outerjoin(user, grant.c.grantee_user == user.c.id))


def held(
    conn: sa.Connection, principal: Principal, lineage: Collection[str], verb: str, securable: str
) -> list[Grant]:
    """Grants of ``verb`` on ``securable`` to the principal or to an organisation of ``lineage``.

    ``lineage`` is the principal's organisation and its ancestors: a grant to an organisation
    reaches every user in its subtree.
    """
    to_principal = sa.or_(
        grant.c.grantee_user == principal.id, grant.c.grantee_organisation.in_(lineage)
    )
    query = _GRANTS.where(to_principal, grant.c.verb == verb, grant.c.securable == securable)
    return [_grant(row._mapping) for row in conn.execute(query.order_by(grant.c.id))]


def listed(conn: sa.Connection, securable: str | None = None) -> list[Grant]:
    """Every grant, or those on ``securable``, oldest first."""
    query = _GRANTS if securable is None else _GRANTS.where(grant.c.securable == securable)
    return [_grant(row._mapping) for row in conn.execute(query.order_by(grant.c.id))]


def find(conn: sa.Connection, grant_id: int) -> Grant | None:
    """The grant ``grant_id``, if any."""
    row = conn.execute(_GRANTS.where(grant.c.id == grant_id)).one_or_none()
    return None if row is None else _grant(row._mapping)


def add(
    conn: sa.Connection,
    *,
    user_id: int | None,
    organisation: str | None,
    verb: str,
    securable: str,
    by: str,
    now: datetime,
) -> int:
    """Record a grant; the id of the same grant when it already exists."""
    same = sa.select(grant.c.id).where(
        grant.c.grantee_user.is_not_distinct_from(user_id),
        grant.c.grantee_organisation.is_not_distinct_from(organisation),
        grant.c.verb == verb,
        grant.c.securable == securable,
    )
    found = conn.scalar(same)
    if found is not None:
        return int(found)
    inserted = grant.insert().values(
        grantee_user=user_id,
        grantee_organisation=organisation,
        verb=verb,
        securable=securable,
        granted_by=by,
        granted_at=now,
    )
    return int(conn.execute(inserted.returning(grant.c.id)).scalar_one())


def remove(conn: sa.Connection, grant_id: int) -> None:
    """Delete the grant ``grant_id``."""
    conn.execute(grant.delete().where(grant.c.id == grant_id))


def _grant(row: sa.RowMapping) -> Grant:
    return Grant(**{**row, "granted_at": as_utc(row["granted_at"])})
