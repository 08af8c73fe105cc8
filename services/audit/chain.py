"""The hash chain: each row sealed with an HMAC over the previous row's hash and its fields.

``hash = HMAC-SHA256(key, prev_hash || canonical(fields))``, hex, where ``fields`` are every
column but ``hash`` (``id`` and ``at`` included) and the first row's ``prev_hash`` is
:data:`GENESIS`. Changing, removing, inserting or moving a row therefore breaks the seal of that
row or the link of the next; without the key nobody can seal a row that verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

GENESIS = "0" * 64


def canonical(fields: Mapping[str, Any]) -> bytes:
    """JSON of ``fields``: keys sorted, no whitespace, UTF-8 (not escaped).

    NaN and infinities are refused (``ValueError``), as is anything JSON cannot hold
    (``TypeError``).
    """
    return json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def seal(key: bytes, prev_hash: str, fields: Mapping[str, Any]) -> str:
    """The hash of a row: HMAC-SHA256 under ``key`` of ``prev_hash`` then its canonical fields."""
    return hmac.new(key, prev_hash.encode("utf-8") + canonical(fields), hashlib.sha256).hexdigest()
