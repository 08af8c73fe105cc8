"""Delta Sharing profile files: the JSON a recipient's client reads, written owner-only (0600)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path


def save(path: Path, endpoint: str, token: str, expires_at: datetime) -> Path:
    """Write the profile to ``path`` atomically, readable by its owner only; the path."""
    profile = {
        "shareCredentialsVersion": 1,
        "endpoint": endpoint,
        "bearerToken": token,
        "expirationTime": expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(profile, file, indent=2)
    os.replace(partial, path)
    return path
