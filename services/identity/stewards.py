"""The stewards listed in ``conf/departments.yaml``, made ``data_steward`` assignments.

``stewards:`` no longer decides who may review or publish; it is the initial list of who holds
``data_steward`` over each department. :func:`import_stewards` assigns that role to every listed
user who has an account, through :func:`~services.identity.delegation.assign_role` (so as the
runtime's principal, within its authority, audited). Users without an account are reported and
never created: an account needs its first password from an administrator.
"""

from __future__ import annotations

from dataclasses import dataclass

from govlake.principal import ScopedRole
from govlake.runtime import Runtime
from services.identity import accounts, assignments, delegation
from services.identity.settings import Clock, utc_now

STEWARD = "data_steward"


@dataclass(frozen=True)
class Imported:
    """What importing one listed steward did."""

    username: str
    department: str
    outcome: str


def import_stewards(rt: Runtime, *, clock: Clock = utc_now) -> list[Imported]:
    """Give every steward of conf who has an account ``data_steward`` over their department."""
    return [
        Imported(username, code, _import(rt, username, code, clock))
        for code, department in rt.config.departments.items()
        for username in department.stewards
    ]


def _import(rt: Runtime, username: str, department: str, clock: Clock) -> str:
    with rt.platform_db.connect() as conn:
        account = accounts.find(conn, username)
        held = assignments.roles_of(conn, account.id) if account else frozenset()
    if account is None:
        return "no account yet: add it with govlake users add, then import again"
    if ScopedRole(STEWARD, department) in held:
        return f"holds {STEWARD}@{department} already"
    delegation.assign_role(rt, username, STEWARD, department, clock=clock)
    return f"now holds {STEWARD}@{department}"
