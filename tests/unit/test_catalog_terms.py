"""Update cycles from schedules, and the words the catalog's full-text search indexes."""

from __future__ import annotations

import pytest

from catalog.lineage import cycle_of
from catalog.search import words

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("schedule", "code"),
    [
        ("@hourly", "hourly"),
        ("*/15 * * * *", "hourly"),
        ("@daily", "daily"),
        ("30 1 * * *", "daily"),
        ("0 6 * * 1-5", "daily"),  # working days: a daily cycle despite the weekend gap
        ("@weekly", "weekly"),
        ("0 0 1 * *", "monthly"),
        ("0 0 1 */3 *", "quarterly"),
        ("@yearly", "yearly"),
        ("@once", "irregular"),
        (None, "irregular"),
    ],
)
def test_update_cycle_of_a_schedule(schedule: str | None, code: str) -> None:
    assert cycle_of(schedule)[0] == code


def test_words_cut_chinese_and_identifiers() -> None:
    assert {"企业", "信用", "画像"} <= set(words("企业信用画像"))
    assert {"legal", "representative"} <= set(words("legal_representative"))
    assert words("，。、 ") == []
    assert words("USCC") == ["uscc"]
