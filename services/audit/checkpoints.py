"""Signed checkpoints of the ledger's head, one JSON file each, kept outside the platform DB.

A checkpoint states that the ledger held ``count`` rows, the last one ``last_id`` sealed with
``last_hash``, at ``at``. It is signed with Ed25519 over the canonical JSON of those fields and
a format tag, so checking it needs only the public key, and whoever can write the database but
not sign cannot make a shorter or rewritten ledger agree with it. A file is written to a
temporary name in the same folder, flushed to disk and renamed, then left read-only: a reader
never sees half a checkpoint.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from govlake.config.project import ProjectConfig
from services.audit.chain import canonical
from services.audit.keys import verify_key
from services.audit.records import instant

FORMAT = "govlake-audit-checkpoint/1"


@dataclass(frozen=True)
class Checkpoint:
    """The ledger's head at ``at``: ``count`` rows, the last ``last_id`` with ``last_hash``."""

    count: int
    last_id: int
    last_hash: str
    at: datetime

    def statement(self) -> bytes:
        """The bytes the signature covers."""
        return canonical(
            {
                "format": FORMAT,
                "count": self.count,
                "last_id": self.last_id,
                "last_hash": self.last_hash,
                "at": instant(self.at),
            }
        )


@dataclass(frozen=True)
class Found:
    """What a checkpoint folder holds: the latest checkpoint that verifies, and the bad files."""

    latest: Checkpoint | None
    bad: list[str]


def folder(config: ProjectConfig) -> Path:
    """The checkpoint folder of ``conf/platform.yaml`` (``audit.checkpoints``, under home)."""
    return config.home / config.platform.audit.checkpoints


def write(target: Path, checkpoint: Checkpoint, key: Ed25519PrivateKey) -> Path:
    """Sign ``checkpoint`` and write it into the folder ``target``, atomically; its path."""
    statement = checkpoint.statement()
    document = {
        **json.loads(statement),
        "signature": base64.b64encode(key.sign(statement)).decode("ascii"),
    }
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{checkpoint.at:%Y%m%dT%H%M%S%fZ}-{checkpoint.last_id}.json"
    handle, temporary = tempfile.mkstemp(dir=target, prefix=".", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(document, out, indent=2)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())
    os.chmod(temporary, 0o444)
    os.replace(temporary, path)
    directory = os.open(target, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)
    return path


def read(source: Path) -> Found:
    """Every checkpoint file in ``source`` checked against the verify key (needed only if any).

    Raises:
        GovlakeError: there are checkpoint files but no key to check them.
    """
    paths = sorted(source.glob("*.json")) if source.is_dir() else []
    if not paths:
        return Found(None, [])
    key = verify_key()
    valid, bad = [], []
    for path in paths:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            checkpoint, signature = _parse(document)
            key.verify(signature, checkpoint.statement())
        except InvalidSignature:
            bad.append(f"checkpoint {path}: the signature does not verify (altered or forged)")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            bad.append(f"checkpoint {path}: unreadable ({exc})")
        else:
            valid.append(checkpoint)
    latest = max(valid, key=lambda c: (c.last_id, c.at), default=None)
    return Found(latest, bad)


def _parse(document: dict[str, Any]) -> tuple[Checkpoint, bytes]:
    """The checkpoint a file states and its signature."""
    if document.get("format") != FORMAT:
        raise ValueError(f"format is not {FORMAT}")
    checkpoint = Checkpoint(
        count=int(document["count"]),
        last_id=int(document["last_id"]),
        last_hash=str(document["last_hash"]),
        at=datetime.fromisoformat(document["at"]),
    )
    return checkpoint, base64.b64decode(document["signature"], validate=True)
