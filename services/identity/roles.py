"""The fixed roles, the verbs, and what each role may do where: the policy table.

Each role assignment is held over an organisation (its scope). A verb reaches either the
securables owned inside that organisation's subtree, or every securable, or (``publish`` for a
data steward) every securable when the role is held in the platform department. Read the table
row by row: a role may do nothing that its row does not name.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal, get_args

Verb = Literal[
    "read_metadata",
    "read_data",
    "build",
    "review",
    "publish",
    "approve_node",
    "deliver",
    "administer",
    "read_audit",
    "apply",
    "accept",
    "approve",
    "authorize",
    "send_messages",
    "read_messages",
]
Role = Literal[
    "platform_admin",
    "org_admin",
    "data_steward",
    "data_engineer",
    "analyst",
    "exchange_operator",
    "auditor",
    "messenger",
]
VERBS: tuple[Verb, ...] = get_args(Verb)
ROLES: tuple[Role, ...] = get_args(Role)


class Reach(Enum):
    """Where a role's verb applies."""

    SUBTREE = "securables owned in the subtree of the role's organisation"
    EVERYWHERE = "every securable"
    FROM_PLATFORM = "every securable, when the role is held in the platform department"


SUBTREE, EVERYWHERE, FROM_PLATFORM = Reach.SUBTREE, Reach.EVERYWHERE, Reach.FROM_PLATFORM
ALL, ORG, PLAT = EVERYWHERE, SUBTREE, FROM_PLATFORM
NO: Reach | None = None

# One row per role, one column per verb in the order of VERBS. NO: the role may not.
# ``build`` is running the jobs that write a dataset: collect, derive, validate, reprocess,
# maintain, and registering its catalog entry. The last four are the resource application
# chain: ``apply`` for one's organisation (securable ``organisation:<applicant>``), ``accept``
# and ``authorize`` by the platform, ``approve`` by the owner (securable ``catalog:<code>``).
# ``send_messages`` (run the message worker, resend, test a channel) and ``read_messages`` (the
# send log) are the message service's, on the platform department (``organisation:<code>``).
MATRIX: dict[Role, tuple[Reach | None, ...]] = {
    # columns: metadata data build review publish node deliver administer audit
    #          apply accept approve authorize send_messages read_messages
    "platform_admin":    (ALL, NO,  NO,  NO,  NO,   ALL, NO,  ALL, NO,  NO,  NO,   NO,  NO,   ALL, ALL),
    "org_admin":         (ALL, ORG, NO,  NO,  NO,   NO,  NO,  ORG, NO,  ORG, NO,   ORG, NO,   NO,  NO),
    "data_steward":      (ALL, ORG, NO,  ORG, PLAT, NO,  NO,  NO,  NO,  ORG, PLAT, ORG, PLAT, NO,  NO),
    "data_engineer":     (ALL, ORG, ORG, NO,  NO,   NO,  NO,  NO,  NO,  ORG, NO,   NO,  NO,   NO,  NO),
    "analyst":           (ALL, ORG, NO,  NO,  NO,   NO,  NO,  NO,  NO,  ORG, NO,   NO,  NO,   NO,  NO),
    "exchange_operator": (ALL, NO,  NO,  NO,  NO,   ORG, ORG, NO,  NO,  NO,  NO,   NO,  NO,   NO,  NO),
    "auditor":           (NO,  NO,  NO,  NO,  NO,   NO,  NO,  NO,  ALL, NO,  NO,   NO,  NO,   NO,  NO),
    "messenger":         (NO,  NO,  NO,  NO,  NO,   NO,  NO,  NO,  NO,  NO,  NO,   NO,  NO,   ORG, ORG),
}  # fmt: skip

# role -> verb -> where the role may do it, read from the matrix.
ROLE_VERBS: dict[str, dict[str, Reach]] = {
    role: {verb: reach for verb, reach in zip(VERBS, row, strict=True) if reach is not None}
    for role, row in MATRIX.items()
}

# Verbs that come with a role only: a grant can never hand them out.
ROLE_ONLY_VERBS: frozenset[str] = frozenset({"administer", "read_audit"})
# Roles reaching everywhere: only a platform administrator assigns them.
PLATFORM_ASSIGNED: frozenset[str] = frozenset({"platform_admin", "auditor"})
# Roles a service principal (a DAG task, an exchange node) may not hold.
PEOPLE_ONLY: frozenset[str] = frozenset({"platform_admin", "org_admin", "auditor"})
# Separation of duties: the auditor reads the audit and nothing else, so holds no other role.
AUDITOR = "auditor"
