"""File digests: the same hash as hashing the bytes at once, across chunk boundaries."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from govlake.digest import CHUNK, file_sha256

pytestmark = pytest.mark.unit


def test_file_sha256_matches_the_bytes_hash(tmp_path: Path) -> None:
    data = bytes(range(256)) * (CHUNK // 256 * 2 + 3)
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert file_sha256(empty) == hashlib.sha256(b"").hexdigest()
