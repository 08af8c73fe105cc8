"""The typed record of one audit event, as written and as read back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Outcome = Literal["success", "refused", "failed"]


@dataclass(frozen=True)
class AuditEvent:
    """Who (``principal`` of ``organisation``, from ``client``) did ``action`` on ``object``.

    ``at`` is the database clock (UTC) when the row was appended; ``details`` is a JSON object;
    ``hash`` seals the row and ``prev_hash``, the hash of the row before it.
    """

    id: int
    at: datetime
    principal: str
    organisation: str | None
    action: str
    object: str
    outcome: Outcome
    client: str | None
    request_id: str | None
    details: Mapping[str, Any]
    prev_hash: str
    hash: str

    def sealed_fields(self) -> dict[str, Any]:
        """Every field but ``hash``, as the chain seals them (``at`` as ISO 8601 text in UTC)."""
        return {
            "id": self.id,
            "at": instant(self.at),
            "principal": self.principal,
            "organisation": self.organisation,
            "action": self.action,
            "object": self.object,
            "outcome": self.outcome,
            "client": self.client,
            "request_id": self.request_id,
            "details": dict(self.details),
            "prev_hash": self.prev_hash,
        }


def utc(at: datetime) -> datetime:
    """``at`` in UTC; a naive value (SQLite gives those back) is taken as UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def instant(at: datetime) -> str:
    """``at`` in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, as the chain seals it."""
    return utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
