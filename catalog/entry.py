"""What a catalog entry holds: a reviewed *definition* and a refreshed *state*.

The definition (name, owner, classification, sharing, schema, update cycle...) is what a data
steward reviews: when a build finds it changed, the entry gets a new version that must be
reviewed again, with the difference recorded. The state (rows, size, Delta version, quality,
freshness, lineage) changes on every run and is refreshed in place without review.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from govlake.config.models import Classification, OpenType, SharingType, Zone

EntryStatus = Literal[
    "registered", "approved", "rejected", "published", "unpublished", "superseded"
]
CycleCode = Literal["hourly", "daily", "weekly", "monthly", "quarterly", "yearly", "irregular"]


class Frozen(BaseModel):
    """Immutable, exact models: entries are compared and hashed field by field."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Column(Frozen):
    """One column as the Delta log declares it, with its description."""

    name: str
    type: str
    nullable: bool
    comment: str = ""
    sensitive: str | None = None
    system: bool = False


class Sharing(Frozen):
    """How the resource is shared with departments and opened to the public."""

    type: SharingType
    conditions: str | None
    open: OpenType


class UpdateCycle(Frozen):
    """How often the dataset changes, derived from the schedule of the DAG that builds it."""

    code: CycleCode
    label: str
    schedule: str


class Definition(Frozen):
    """The reviewed part of an entry; a change to any field makes a new entry version."""

    dataset: str
    zone: Zone
    title: str
    description: str
    owner: str
    owner_name: str
    category: str
    category_name: str
    classification: Classification
    sensitive_columns: list[str]
    sharing: Sharing
    keys: list[str]
    update_cycle: UpdateCycle
    columns: list[Column]

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of the definition."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


class Delivery(Frozen):
    """An exchange subscription that sends the dataset to a department."""

    subscription: str
    node: str
    department: str
    format: str
    schedule: str


class SourceRef(Frozen):
    """A source the dataset's rows come from, through bronze."""

    name: str
    stream: str
    kind: str
    owner: str
    bronze: str


class Lineage(Frozen):
    """Where the rows come from and where they go, from conf and the DAG/Asset graph."""

    producer_dag: str
    asset_uri: str
    sources: list[SourceRef]
    inputs: list[str]
    upstream: list[str]
    downstream: list[str]
    subscriptions: list[Delivery]


class State(Frozen):
    """Facts refreshed on every build: size, version, quality and freshness."""

    rows: int | None
    size_bytes: int | None
    files: int | None
    delta_version: int | None
    last_updated: datetime | None
    quality_score: float | None
    freshness: Literal["fresh", "stale"]
    freshness_limit_hours: int
    lineage: Lineage


def diff(old: Definition, new: Definition) -> dict[str, Any]:
    """What changed from ``old`` to ``new``: fields, and columns added, removed or altered."""
    before, after = old.model_dump(mode="json"), new.model_dump(mode="json")
    fields = {
        name: {"from": before[name], "to": after[name]}
        for name in after
        if name != "columns" and before[name] != after[name]
    }
    old_columns = {c["name"]: c for c in before["columns"]}
    new_columns = {c["name"]: c for c in after["columns"]}
    changed = {
        name: {
            attr: {"from": old_columns[name][attr], "to": value}
            for attr, value in column.items()
            if old_columns[name][attr] != value
        }
        for name, column in new_columns.items()
        if name in old_columns and old_columns[name] != column
    }
    result: dict[str, Any] = {"fields": fields}
    columns = {
        "added": [n for n in new_columns if n not in old_columns],
        "removed": [n for n in old_columns if n not in new_columns],
        "changed": changed,
    }
    if any(columns.values()):
        result["columns"] = columns
    return result
