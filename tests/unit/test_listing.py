"""Every listing command prints one of five formats with the same typed records."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import yaml

from apps.cli.listing import Format, Listing, emit, identifiers

pytestmark = pytest.mark.unit


def _listing() -> Listing:
    listing = Listing("audit", ("id", "at (UTC)", "count_star()", "details"))
    listing.add(1, datetime(2026, 12, 2, 8, 30, tzinfo=UTC), 3, {"rows": 2})
    listing.add(2, None, 0, None)
    return listing


def test_labels_become_distinct_identifiers() -> None:
    assert identifiers(["at (UTC)", "count_star()", "org.", "2nd", "a b", "a-b", ""]) == [
        "at_utc", "count_star", "org", "_2nd", "a_b", "a_b_2", "column",
    ]  # fmt: skip


def test_json_is_one_array_and_jsonl_one_object_per_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    expected = [
        {"id": 1, "at_utc": "2026-12-02T08:30:00+00:00", "count_star": 3, "details": {"rows": 2}},
        {"id": 2, "at_utc": None, "count_star": 0, "details": None},
    ]
    emit(_listing(), Format.json)
    assert json.loads(capsys.readouterr().out) == expected
    emit(_listing(), Format.jsonl)
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == expected
    emit(_listing(), Format.yaml)
    assert yaml.safe_load(capsys.readouterr().out) == expected


def test_csv_has_a_header_and_flat_cells(capsys: pytest.CaptureFixture[str]) -> None:
    emit(_listing(), Format.csv)
    assert capsys.readouterr().out.splitlines() == [
        "id,at_utc,count_star,details",
        '1,2026-12-02 08:30:00,3,"{""rows"": 2}"',
        "2,,0,",
    ]


def test_a_table_folds_names_instead_of_cutting_them(capsys: pytest.CaptureFixture[str]) -> None:
    name = "bronze.social_insurance_payments__quarantine" * 4  # wider than the console
    listing = Listing("t", ("table",), compact=True)
    listing.add(name)
    emit(listing, Format.table)
    body = capsys.readouterr().out.split("─")[-1]
    assert len(body.strip().splitlines()) > 1 and "".join(body.split()) == name
