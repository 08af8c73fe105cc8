"""Role assignment rows: who holds which role over which organisation."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from govlake.platform_db.schema import role_assignment, user
from govlake.principal import ScopedRole


def roles_of(conn: sa.Connection, user_id: int) -> frozenset[ScopedRole]:
    """The roles the user ``user_id`` holds."""
    rows = conn.execute(
        sa.select(role_assignment.c.role, role_assignment.c.scope).where(
            role_assignment.c.user_id == user_id
        )
    )
    return frozenset(ScopedRole(r.role, r.scope) for r in rows)


def holders(conn: sa.Connection, role: str, *, active_only: bool = False) -> list[int]:
    """The ids of the users holding ``role`` over any organisation (active ones only)."""
    query = sa.select(role_assignment.c.user_id).where(role_assignment.c.role == role)
    if active_only:
        query = query.join(user, user.c.id == role_assignment.c.user_id)
        query = query.where(user.c.status == "active")
    return sorted(set(conn.scalars(query)))


def sole_active_holder(conn: sa.Connection, role: str, user_id: int) -> bool:
    """Whether ``user_id`` is the only active user holding ``role``."""
    return holders(conn, role, active_only=True) == [user_id]


def add(conn: sa.Connection, user_id: int, held: ScopedRole, *, by: str, now: datetime) -> bool:
    """Record the assignment; ``False`` when the user already holds it."""
    if held in roles_of(conn, user_id):
        return False
    conn.execute(
        role_assignment.insert().values(
            user_id=user_id, role=held.role, scope=held.scope, assigned_by=by, assigned_at=now
        )
    )
    return True


def remove(conn: sa.Connection, user_id: int, held: ScopedRole) -> bool:
    """Delete the assignment; ``False`` when the user did not hold it."""
    deleted = conn.execute(
        role_assignment.delete().where(
            role_assignment.c.user_id == user_id,
            role_assignment.c.role == held.role,
            role_assignment.c.scope == held.scope,
        )
    )
    return deleted.rowcount > 0
