"""Who may move a catalog entry from one status to another.

An entry version starts ``registered``. A data steward of the dataset's owning department
approves or rejects it (a rejection says why). The platform department's stewards publish an
approved version, unpublish a published one and publish it again. Publishing a version
supersedes the version published before it; registering a new version supersedes a version
still waiting for review.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from catalog.entry import EntryStatus
from govlake.config.project import ProjectConfig
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
    """A transition the workflow does not allow, or an actor who may not make it."""


@dataclass(frozen=True)
class Decision:
    """An allowed transition: the new status and the department that made it."""

    to_status: EntryStatus
    department: str


def decide(
    config: ProjectConfig,
    *,
    entry: str,
    status: EntryStatus,
    owner: str,
    action: Action,
    actor: str,
    comment: str | None,
) -> Decision:
    """The status ``action`` leads to, or a :class:`WorkflowError` saying why it may not."""
    target = TRANSITIONS.get((status, action))
    if target is None:
        raise WorkflowError(
            f"{entry} is {status}: it cannot be {TRANSITIONS_TO[action]}; next: {NEXT_STEP[status]}"
        )
    department = owner if action in ("approve", "reject") else config.catalog.platform_department
    stewards = config.departments[department].stewards
    if actor not in stewards:
        raise WorkflowError(
            f"{actor!r} may not {action} {entry}: only stewards of "
            f"{config.departments[department].name} ({department}) may; "
            f"they are: {', '.join(stewards) or 'none declared in departments.yaml'}"
        )
    if action == "reject" and not (comment and comment.strip()):
        raise WorkflowError(f"rejecting {entry} needs a comment saying what to correct")
    return Decision(target, department)
