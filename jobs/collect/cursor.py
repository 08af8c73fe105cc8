"""Source cursors as JSON, so they can travel in Delta commit metadata and come back typed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from govlake.errors import GovlakeError

_DECODERS: dict[str, Callable[[str], Any]] = {
    "int": int,
    "str": str,
    "decimal": Decimal,
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
}


def encode(column: str, value: Any) -> dict[str, str]:
    """The cursor ``column = value`` as a JSON-ready mapping that keeps the value's type."""
    if isinstance(value, datetime):
        kind = "datetime"
    elif isinstance(value, date):
        kind = "date"
    elif isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise GovlakeError(
            f"cursor column {column!r}: unsupported value type {type(value).__name__}"
        )
    else:
        kind = {int: "int", str: "str", Decimal: "decimal"}[type(value)]
    text = value.isoformat() if isinstance(value, date) else str(value)
    return {"column": column, "type": kind, "value": text}


def decode(cursor: dict[str, str] | None, column: str) -> Any:
    """The typed value of a stored cursor, ``None`` if absent or for another column."""
    if not cursor or cursor.get("column") != column:
        return None
    return _DECODERS[cursor["type"]](cursor["value"])
