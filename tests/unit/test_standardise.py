"""Standardisation rules: check digits, full-width forms, amounts, dates, latest-wins."""

from __future__ import annotations

import random
from datetime import date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from jobs.standardise import (
    latest_per_key,
    normalise_phone,
    normalise_resident_id,
    normalise_text,
    normalise_uscc,
    parse_amount_yuan,
    parse_date,
    resident_id_is_valid,
    uscc_is_valid,
)
from subjects.enterprise_registry.seed import make_uscc

pytestmark = pytest.mark.unit

# Codes with a correct GB 32100-2015 check digit, written out rather than generated.
REAL_CODES = ["91350100M000100Y43", "91110000600037341L"]


def _flip_check_digit(code: str) -> str:
    return code[:-1] + ("1" if code[-1] != "1" else "2")


def test_valid_codes_pass() -> None:
    generated = [make_uscc(random.Random(i)) for i in range(50)]
    assert uscc_is_valid(pa.array(REAL_CODES + generated)).to_pylist() == [True] * 52


def test_wrong_check_digit_and_bad_forms_fail() -> None:
    bad = [_flip_check_digit(c) for c in REAL_CODES] + [
        "9135010",
        "91350100M000100Y4I",
        "",
        None,
        "ABCDEFGHIJKLMNOPQR",
    ]
    assert uscc_is_valid(pa.array(bad, pa.string())).to_pylist() == [False] * len(bad)


def test_codes_are_compacted_from_export_noise() -> None:
    noisy = pa.array([" 91350100M000100Y43 ", "９１３５０１００M000100Y43", "91350100m000100y43"])
    assert normalise_uscc(noisy).to_pylist() == ["91350100M000100Y43"] * 3


def test_text_is_nfkc_trimmed_and_blank_is_null() -> None:
    values = pa.array(["  杭州（西湖）科技有限公司　", "ＡＢＣ１２３", "   ", None])
    assert normalise_text(values).to_pylist() == ["杭州(西湖)科技有限公司", "ABC123", None, None]


@pytest.mark.parametrize(
    ("text", "yuan"),
    [
        ("500万元", "5000000.00"),
        ("1,200,000元", "1200000.00"),
        ("三百万元", "3000000.00"),
        ("伍佰万元", "5000000.00"),
        ("50.5万元人民币", "505000.00"),
        ("2亿元", "200000000.00"),
    ],
)
def test_amounts_in_yuan(text: str, yuan: str) -> None:
    assert parse_amount_yuan(text) == Decimal(yuan)


@pytest.mark.parametrize("text", ["若干", "万元", "", None, "12abc元"])
def test_unreadable_amounts(text: str | None) -> None:
    assert parse_amount_yuan(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "2019-03-05",
        "2019/3/5",
        "2019年3月5日",
        "20190305",
        "二〇一九年三月五日",
        "2019.03.05",
    ],
)
def test_dates(text: str) -> None:
    assert parse_date(text) == date(2019, 3, 5)


@pytest.mark.parametrize("text", ["不详", "2019-02-30", "", None])
def test_unreadable_dates(text: str | None) -> None:
    assert parse_date(text) is None


def test_latest_per_key_keeps_the_newest_row() -> None:
    table = pa.table(
        {
            "k": ["a", "b", "a", "c", "b"],
            "v": [1, 2, 3, 4, 5],
            "at": [datetime(2024, 1, d) for d in (1, 9, 5, 1, 3)],
        }
    )
    kept = latest_per_key(table, ["k"], "at").sort_by("k")
    assert kept.to_pydict()["v"] == [3, 2, 4]


def test_resident_id_numbers() -> None:
    values = pa.array(
        [
            "11010519491231002X",
            " 110105 19491231 002x ",
            "110105194912310021",
            "110105194902300025",
            None,
        ]
    )
    compact = normalise_resident_id(values)
    assert compact.to_pylist()[:2] == ["11010519491231002X"] * 2
    assert resident_id_is_valid(compact).to_pylist() == [True, True, False, False, False]


def test_phone_numbers_in_e164() -> None:
    values = pa.array(["13812345678", "+86 138-1234-5678", "０５７１ 8888 6666", "12345", None])
    assert normalise_phone(values).to_pylist() == [
        "+8613812345678",
        "+8613812345678",
        "+8657188886666",
        None,
        None,
    ]
