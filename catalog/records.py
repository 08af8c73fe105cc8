"""Typed records read out of the catalog tables: an entry as readers see it, versions, events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from catalog.entry import Definition, EntryStatus, State


@dataclass(frozen=True)
class CatalogEntry:
    """A resource with one of its entry versions (the latest, the published, or the one shown)."""

    code: str
    dataset: str
    version: int
    latest_version: int
    published_version: int | None
    status: EntryStatus
    registered_at: datetime
    refreshed_at: datetime
    definition: Definition
    state: State
    rank: float | None = None
    """Search relevance, set only on search results."""


@dataclass(frozen=True)
class EntryVersion:
    """One version of a resource's definition, with what changed from the version before."""

    code: str
    version: int
    status: EntryStatus
    registered_at: datetime
    definition: Definition
    fingerprint: str
    diff: dict[str, Any] | None


@dataclass(frozen=True)
class CatalogEvent:
    """One workflow step: who moved which version from which status to which, when and why."""

    id: int
    code: str
    version: int
    action: str
    from_status: str | None
    to_status: str
    actor: str
    department: str | None
    comment: str | None
    at: datetime
