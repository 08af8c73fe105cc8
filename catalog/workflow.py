"""Which status a catalog entry may move to from which, by which action.

An entry version starts ``registered``; it is approved or rejected (a rejection says why), an
approved version is published, a published one unpublished and published again. Publishing a
version supersedes the version published before it; registering a new version supersedes a
version still waiting for review. Who may act is the policy's decision
(``services.identity.policy``): ``review`` is a data steward's of the owning department,
``publish`` (and unpublish) a data steward's of the platform department.
"""

from __future__ import annotations

from typing import Literal

from catalog.entry import EntryStatus
from govlake.errors import GovlakeError

Action = Literal["approve", "reject", "publish", "unpublish"]

# (status, action) -> the status it leads to.
TRANSITIONS: dict[tuple[EntryStatus, Action], EntryStatus] = {
    ("registered", "approve"): "approved",
    ("registered", "reject"): "rejected",
    ("approved", "publish"): "published",
    ("published", "unpublish"): "unpublished",
    ("unpublished", "publish"): "published",
}
TRANSITIONS_TO: dict[Action, str] = {
    "approve": "approved",
    "reject": "rejected",
    "publish": "published",
    "unpublish": "unpublished",
}
NEXT_STEP: dict[EntryStatus, str] = {
    "registered": "a steward of the owning department approves or rejects it",
    "approved": "the platform publishes it",
    "rejected": "the dataset's conf is corrected and the catalog rebuilt, making a new version",
    "published": "the platform may unpublish it",
    "unpublished": "the platform may publish it again",
    "superseded": "nothing: a newer version replaced it",
}


class WorkflowError(GovlakeError):
    """A transition the workflow does not allow from an entry's status."""


def decide(*, entry: str, status: EntryStatus, action: Action, comment: str | None) -> EntryStatus:
    """The status ``action`` leads to, or a :class:`WorkflowError` saying why it may not.

    Who may act is not decided here but by the policy (``review`` and ``publish``).
    """
    target = TRANSITIONS.get((status, action))
    if target is None:
        raise WorkflowError(
            f"{entry} is {status}: it cannot be {TRANSITIONS_TO[action]}; next: {NEXT_STEP[status]}"
        )
    if action == "reject" and not (comment and comment.strip()):
        raise WorkflowError(f"rejecting {entry} needs a comment saying what to correct")
    return target
