"""Which step leads an application from which status to which, and who may take it.

``submitted -> accepted | rejected_at_acceptance`` (the platform), ``accepted -> approved |
rejected_by_owner`` (the owning organisation), ``approved -> authorized |
refused_authorization`` (the platform), ``authorized -> active`` when its period begins,
``active -> expired`` when it ends, and ``authorized | active -> revoked`` by the platform or
the owner. One ``reject`` action says no at whichever of the three decisions is due. Each step
needs a verb of the policy on the resource (``catalog:<code>``); a refusal needs a comment.
"""

from __future__ import annotations

from typing import Literal

from catalog.sharing.terms import Status
from govlake.errors import GovlakeError

Action = Literal["accept", "approve", "authorize", "reject", "activate", "expire", "revoke"]

# (status, action) -> (the status it leads to, the verbs that may take it; () for the platform's
# own clock).
STEPS: dict[tuple[Status, Action], tuple[Status, tuple[str, ...]]] = {
    ("submitted", "accept"): ("accepted", ("accept",)),
    ("submitted", "reject"): ("rejected_at_acceptance", ("accept",)),
    ("accepted", "approve"): ("approved", ("approve",)),
    ("accepted", "reject"): ("rejected_by_owner", ("approve",)),
    ("approved", "authorize"): ("authorized", ("authorize",)),
    ("approved", "reject"): ("refused_authorization", ("authorize",)),
    ("authorized", "activate"): ("active", ()),
    ("active", "expire"): ("expired", ()),
    ("authorized", "expire"): ("expired", ()),
    ("authorized", "revoke"): ("revoked", ("authorize", "approve")),
    ("active", "revoke"): ("revoked", ("authorize", "approve")),
}
NEXT: dict[Status, str] = {
    "submitted": "the platform accepts or rejects it",
    "accepted": "a data steward or administrator of the owning organisation approves or rejects it",
    "approved": "the platform authorises or refuses it",
    "authorized": "it becomes active when its period begins",
    "active": "it is in use until it expires or is revoked",
    "rejected_at_acceptance": "nothing: apply again",
    "rejected_by_owner": "nothing: apply again",
    "refused_authorization": "nothing: apply again",
    "expired": "nothing: apply again",
    "revoked": "nothing: apply again",
}
DONE: dict[Action, str] = {
    "accept": "accepted",
    "approve": "approved",
    "authorize": "authorised",
    "reject": "rejected",
    "activate": "activated",
    "expire": "expired",
    "revoke": "revoked",
}
NEEDS_COMMENT: frozenset[Action] = frozenset({"reject", "revoke"})


class StepRefused(GovlakeError):
    """A step the workflow does not allow from an application's status."""


def step(
    code: str, status: Status, action: Action, comment: str | None
) -> tuple[Status, tuple[str, ...]]:
    """The status ``action`` leads to and the verbs that may take it, or :class:`StepRefused`."""
    found = STEPS.get((status, action))
    if found is None:
        done = DONE[action]
        raise StepRefused(f"{code} is {status}: it cannot be {done} now; next: {NEXT[status]}")
    if action in NEEDS_COMMENT and not (comment and comment.strip()):
        raise StepRefused(f"to {action} {code} needs a comment saying why")
    return found
