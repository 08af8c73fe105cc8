"""Share grants: what an authorised application lets an organisation read, in which mode, when.

A grant belongs to the organisation that applied and reaches the users of its subtree. It is in
force while ``active`` and inside its period: revocation and expiry take effect on the next
request, because every share path asks :func:`in_force` then, never a cached answer.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa

from catalog.sharing.terms import ShareMode, Terms
from govlake.platform_db.schema import share_application, share_grant
from services.identity.settings import as_utc

GrantStatus = Literal["active", "revoked", "expired"]


@dataclass(frozen=True)
class ShareGrant:
    """One grant, produced by authorising application ``application``."""

    id: int
    application: str
    organisation: str
    resource: str
    dataset: str
    mode: ShareMode
    terms: Terms
    valid_from: datetime
    valid_until: datetime
    status: GrantStatus
    granted_by: str
    granted_at: datetime

    def in_force(self, now: datetime) -> bool:
        """Whether the grant allows reading at ``now``."""
        return self.status == "active" and self.valid_from <= now < self.valid_until


_SELECT = sa.select(*share_grant.c, share_application.c.code.label("application_code")).join(
    share_application, share_application.c.id == share_grant.c.application
)


def add(
    conn: sa.Connection,
    *,
    application_id: int,
    organisation: str,
    resource: str,
    dataset: str,
    mode: ShareMode,
    terms: Terms,
    valid_from: datetime,
    valid_until: datetime,
    by: str,
    now: datetime,
) -> int:
    """Insert an active grant; its id."""
    inserted = conn.execute(
        share_grant.insert().values(
            application=application_id, organisation=organisation, resource=resource,
            dataset=dataset, mode=mode, terms=terms.model_dump(mode="json"),
            valid_from=valid_from, valid_until=valid_until, status="active", granted_by=by,
            granted_at=now,
        ).returning(share_grant.c.id)
    )  # fmt: skip
    return int(inserted.scalar_one())


def end(
    conn: sa.Connection, application_id: int, status: GrantStatus, *, by: str, now: datetime
) -> None:
    """Mark the grant of ``application_id`` revoked or expired."""
    conn.execute(
        share_grant.update()
        .where(share_grant.c.application == application_id, share_grant.c.status == "active")
        .values(status=status, ended_by=by, ended_at=now)
    )


def of_application(conn: sa.Connection, application_id: int) -> ShareGrant | None:
    """The grant application ``application_id`` produced, if any."""
    row = conn.execute(_SELECT.where(share_grant.c.application == application_id)).one_or_none()
    return None if row is None else _grant(row._mapping)


def by_id(conn: sa.Connection, grant_id: int) -> ShareGrant | None:
    """Grant ``grant_id``, if there is one."""
    row = conn.execute(_SELECT.where(share_grant.c.id == grant_id)).one_or_none()
    return None if row is None else _grant(row._mapping)


def in_force(
    conn: sa.Connection,
    lineage: Collection[str],
    dataset: str,
    now: datetime,
    mode: ShareMode | None = None,
) -> list[ShareGrant]:
    """The grants to an organisation of ``lineage`` on ``dataset`` (in ``mode``) in force now."""
    query = _SELECT.where(
        share_grant.c.organisation.in_(lineage),
        share_grant.c.dataset == dataset,
        share_grant.c.status == "active",
    )
    if mode is not None:
        query = query.where(share_grant.c.mode == mode)
    found = [_grant(row._mapping) for row in conn.execute(query.order_by(share_grant.c.id))]
    return [g for g in found if g.in_force(now)]


def listed(conn: sa.Connection, organisation: str | None = None) -> list[ShareGrant]:
    """Every grant (of ``organisation``), oldest first."""
    query = (
        _SELECT
        if organisation is None
        else _SELECT.where(share_grant.c.organisation == organisation)
    )
    return [_grant(row._mapping) for row in conn.execute(query.order_by(share_grant.c.id))]


def _grant(row: sa.RowMapping | dict[str, Any]) -> ShareGrant:
    return ShareGrant(
        id=row["id"],
        application=row["application_code"],
        organisation=row["organisation"],
        resource=row["resource"],
        dataset=row["dataset"],
        mode=row["mode"],
        terms=Terms.model_validate(row["terms"]),
        valid_from=as_utc(row["valid_from"]),
        valid_until=as_utc(row["valid_until"]),
        status=row["status"],
        granted_by=row["granted_by"],
        granted_at=as_utc(row["granted_at"]),
    )
