"""The vectorised check agrees with python-stdnum, the reference, on valid and corrupted codes."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest
from stdnum.cn import uscc

from jobs.identifiers import ALPHABET, uscc_valid
from subjects.enterprise_registry.seed import make_uscc

pytestmark = pytest.mark.unit


def _corrupt(code: str, rng: random.Random) -> str:
    position = rng.randrange(18)
    return code[:position] + rng.choice(ALPHABET + "IOSVZ a") + code[position + 1 :]


def test_agrees_with_stdnum() -> None:
    rng = random.Random(3)
    valid = [make_uscc(rng) for _ in range(5000)]
    corrupted = [_corrupt(c, rng) for c in valid]
    odd = [
        "",
        "91350100M000100Y4",
        "91350100M000100Y433",
        "9135010０M000100Y43",
        "A1350100M000100Y43",
        "91350100M000100YI3",
        "91350100m000100y43",
        None,
    ]
    values = valid + corrupted + odd
    # stdnum cleans its input first (spaces, case, full-width); silver stores codes already
    # compact, so a code that needs cleaning counts as invalid here.
    expected = [bool(v) and uscc.is_valid(v) and uscc.compact(v) == v for v in values]
    assert uscc_valid(pa.array(values, pa.string())).tolist() == expected
    assert sum(expected) > 5000  # some corruptions keep the check digit right by chance


def test_chunked_and_empty() -> None:
    chunked = pa.chunked_array([["91350100M000100Y43"], ["91350100M000100Y44", None]])
    assert uscc_valid(chunked).tolist() == [True, False, False]
    assert uscc_valid(pa.array([], pa.string())).tolist() == []
