"""The share interface's file rules: predicate and limit hints, and signed file addresses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from catalog.sharing.file_hints import chosen
from catalog.sharing.share_tables import ShareFile
from catalog.sharing.signed_urls import FileAddress, UrlRefused, checked, safe_path, signed_url
from govlake.errors import GovlakeError

pytestmark = pytest.mark.unit

A = ShareFile("a.parquet", 10, 100, {"numRecords": 100, "minValues": {"n": 1, "s": "a"},
              "maxValues": {"n": 50, "s": "m"}, "nullCount": {"n": 0, "s": 100}})  # fmt: skip
B = ShareFile("b.parquet", 10, 100, {"numRecords": 100, "minValues": {"n": 51, "s": "n"},
              "maxValues": {"n": 99, "s": "z"}, "nullCount": {"n": 3, "s": 0}})  # fmt: skip
C = ShareFile("c.parquet", 10, None, {})  # no statistics: never left out


def _names(*args: object) -> list[str]:
    return [f.path[0] for f in chosen([A, B, C], *args)]  # type: ignore[arg-type]


def _json(op: str, column: str, value: object, kind: str = "int") -> dict[str, object]:
    left = {"op": "column", "name": column, "valueType": kind}
    return {"op": op, "children": [left, {"op": "literal", "value": str(value), "valueType": kind}]}


@pytest.mark.parametrize(
    ("hints", "kept"),
    [
        (["n = 60"], "bc"),
        (["n < 51"], "ac"),
        (["60 <= n"], "bc"),  # the literal first
        (["n > 99"], "c"),
        (["s = 'q'"], "bc"),
        (["n IS NULL"], "bc"),
        (["s IS NOT NULL"], "bc"),
        (["n = 60", "s = 'b'"], "c"),  # conjunctive
        (["n = 60 OR n = 1"], "abc"),  # not in the subset: skipped, every file kept
        (["n ~ 3", "nonsense"], "abc"),
        (["missing = 3"], "abc"),  # no statistics of that column
        (["s = 3"], "abc"),  # does not compare
    ],
)
def test_sql_hints_leave_out_only_the_files_their_statistics_rule_out(
    hints: list[str], kept: str
) -> None:
    assert "".join(_names(hints, None, None)) == kept


@pytest.mark.parametrize(
    ("tree", "kept"),
    [
        (_json("equal", "n", 60), "bc"),
        (_json("lessThanOrEqual", "n", 50), "ac"),
        (
            {
                "op": "and",
                "children": [_json("greaterThan", "n", 10), _json("equal", "s", "b", "string")],
            },
            "ac",
        ),  # fmt: skip
        ({"op": "or", "children": [_json("equal", "n", 1), _json("equal", "n", 99)]}, "abc"),
        ({"op": "or", "children": [_json("equal", "n", 1), _json("equal", "n", 0)]}, "ac"),
        (
            {
                "op": "not",
                "children": [
                    {
                        "op": "isNull",
                        "children": [{"op": "column", "name": "s", "valueType": "string"}],
                    }
                ],
            },
            "bc",
        ),  # fmt: skip
        (
            {
                "op": "equal",
                "children": [
                    {"op": "literal", "value": "3", "valueType": "int"},
                    {"op": "column", "name": "n", "valueType": "int"},
                ],
            },
            "ac",
        ),  # fmt: skip
        ({"op": "bogus"}, "abc"),
        (_json("equal", "n", "x", "timestamp"), "abc"),
    ],
)
def test_json_hints_too(tree: dict[str, object], kept: str) -> None:
    assert "".join(_names(None, json.dumps(tree), None)) == kept


def test_unreadable_json_hints_keep_every_file() -> None:
    assert "".join(_names(None, "{not json", None)) == "abc"


def test_the_limit_hint_keeps_files_until_they_hold_that_many_rows() -> None:
    assert "".join(_names(None, None, 150)) == "ab"
    assert "".join(_names(None, None, 100)) == "a"
    assert "".join(_names(None, None, 0)) == "a"  # at least one file: its schema
    assert "".join(_names(["n > 60"], None, 10)) == "b"  # the predicates first


KEY = "a-share-url-signing-key-for-the-tests-only-0123456789"
NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def url_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVLAKE_SHARE_URL_KEY", KEY)


def _signature(url: str) -> str:
    return url.rsplit("signature=", 1)[1]


@pytest.mark.usefixtures("url_key")
def test_a_signed_address_holds_until_it_expires_and_only_unchanged() -> None:
    address = FileAddress(7, "_change_data/part-1.parquet", "tax.analyst",
                          int((NOW + timedelta(minutes=15)).timestamp()))  # fmt: skip
    url = signed_url("http://127.0.0.1:1/delta-sharing", address)
    assert url.startswith("http://127.0.0.1:1/delta-sharing/files/7/_change_data/part-1.parquet?")
    signature = _signature(url)
    assert checked(address, signature, NOW) == address
    for changed in (
        FileAddress(8, address.path, address.holder, address.expires),
        FileAddress(7, "_change_data/part-2.parquet", address.holder, address.expires),
        FileAddress(7, address.path, "hr.analyst", address.expires),
        FileAddress(7, address.path, address.holder, address.expires + 3600),
    ):
        with pytest.raises(UrlRefused, match="signature does not match"):
            checked(changed, signature, NOW)
    with pytest.raises(UrlRefused, match="has expired"):
        checked(address, signature, NOW + timedelta(minutes=15))


@pytest.mark.parametrize(
    "path",
    ["../x.parquet", "a/../../x.parquet", "/etc/x.parquet", "./x.parquet", "a//x.parquet",
     "x.json", "_delta_log/x.parquet", "a\\..\\x.parquet", "x\x00.parquet", ""],
)  # fmt: skip
def test_paths_that_could_leave_the_share_table_are_refused_even_signed(
    path: str, url_key: None
) -> None:
    with pytest.raises(UrlRefused, match="not a file of the share"):
        safe_path(path)
    address = FileAddress(1, path, "tax.analyst", int(NOW.timestamp()) + 60)
    with pytest.raises(UrlRefused, match="not a file of the share"):
        checked(address, _signature(signed_url("http://h", address)), NOW)


def test_no_address_is_signed_without_a_long_enough_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOVLAKE_SHARE_URL_KEY", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_GOVLAKE_SHARE_URLS", raising=False)
    address = FileAddress(1, "x.parquet", "u", 1)
    with pytest.raises(GovlakeError, match="signed share URLs need a key: set GOVLAKE_SHARE_URL"):
        signed_url("http://h", address)
    monkeypatch.setenv("GOVLAKE_SHARE_URL_KEY", "short")
    with pytest.raises(GovlakeError, match="shorter than 32 bytes") as refused:
        signed_url("http://h", address)
    assert "short" not in str(refused.value).replace("shorter", "")
