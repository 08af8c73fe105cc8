"""Reusable standardisation of government data, vectorised over Arrow arrays.

Each rule rests on a well-kept library: python-stdnum for the unified social credit code
(GB 32100-2015) and the resident identity number (GB 11643), phonenumbers for telephone
numbers, cn2an for Chinese numerals and amounts, dateparser for free-form dates, and Unicode
NFKC for full-width characters. Per-value rules run once per distinct value; the credit-code
check, needed on every row of large tables, is vectorised in :mod:`jobs.identifiers`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeAlias

import cn2an
import dateparser
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from stdnum.cn import ric

from jobs.identifiers import uscc_valid

ArrayLike: TypeAlias = pa.Array | pa.ChunkedArray

_ISO_LIKE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_AMOUNT = re.compile(r"^(?P<number>.+?)(?P<unit>万|亿)?元?(人民币)?$")
_UNITS = {None: Decimal(1), "万": Decimal(10_000), "亿": Decimal(100_000_000)}


def map_distinct(values: ArrayLike, function: Callable[[Any], Any], type_: pa.DataType) -> pa.Array:
    """Apply ``function`` once per distinct non-null value and spread the results back."""
    encoded = (
        pc.dictionary_encode(values).combine_chunks()
        if isinstance(values, pa.ChunkedArray)
        else pc.dictionary_encode(values)
    )
    mapped = pa.array([function(v) for v in encoded.dictionary.to_pylist()], type=type_)
    return pc.take(mapped, encoded.indices)


def normalise_text(values: ArrayLike) -> pa.Array:
    """NFKC (full-width to half-width), trimmed; blank becomes null."""
    text = pc.utf8_trim_whitespace(pc.utf8_normalize(values, "NFKC"))
    blank = pc.equal(text, "")
    return pc.if_else(blank, pa.scalar(None, pa.string()), text)


def normalise_uscc(values: ArrayLike) -> pa.Array:
    """Unified social credit codes without separators, upper case (stdnum's ``compact``)."""
    return pc.utf8_upper(pc.replace_substring_regex(normalise_text(values), r"[\s\-]+", ""))


def uscc_is_valid(values: ArrayLike) -> pa.Array:
    """Whether each compact code has the GB 32100-2015 form and check digit (null: no)."""
    return pa.array(uscc_valid(values))


def normalise_resident_id(values: ArrayLike) -> pa.Array:
    """Resident identity numbers without spaces, with an upper-case check character."""
    text = normalise_text(values)
    return pc.utf8_upper(pc.replace_substring_regex(text, r"\s+", ""))


def resident_id_is_valid(values: ArrayLike) -> pa.Array:
    """Whether each number is valid per GB 11643 (birth date and check digit; null: no)."""
    return pc.fill_null(map_distinct(values, ric.is_valid, pa.bool_()), False)


def _e164(text: str | None, region: str) -> str | None:
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_phone(values: ArrayLike, region: str = "CN") -> pa.Array:
    """Phone numbers in E.164 (``+8613812345678``); null where not a valid number."""
    return map_distinct(normalise_text(values), lambda v: _e164(v, region), pa.string())


def parse_amount_yuan(text: str | None) -> Decimal | None:
    """Amounts such as ``500万元``, ``1,200,000元``, ``三百万元人民币`` in yuan, else ``None``."""
    if not text:
        return None
    match = _AMOUNT.match(text.replace(",", "").replace(" ", ""))
    if match is None:
        return None
    number = match.group("number")
    try:
        value = Decimal(number)
    except InvalidOperation:
        try:
            value = Decimal(str(cn2an.cn2an(number, "smart")))
        except (ValueError, KeyError):
            return None
    return (value * _UNITS[match.group("unit")]).quantize(Decimal("0.01"))


def parse_date(text: str | None) -> date | None:
    """Dates such as ``2019-03-05``, ``2019年3月5日``, ``二〇一九年三月五日``, else ``None``."""
    if not text:
        return None
    text = text.strip()
    for pattern in (_ISO_LIKE, _COMPACT_DATE):
        if match := pattern.match(text):
            try:
                return date(*(int(g) for g in match.groups()))
            except ValueError:
                return None
    western = (
        cn2an.transform(text, "cn2an") if re.search(r"[〇零一二三四五六七八九十]", text) else text
    )
    if western != text:
        return parse_date(western)
    parsed = dateparser.parse(text, languages=["zh", "en"], settings={"STRICT_PARSING": True})
    return parsed.date() if parsed else None


def latest_per_key(table: pa.Table, keys: list[str], order_by: str) -> pa.Table:
    """One row per key: the one with the greatest ``order_by`` (ties: the last one given)."""
    if table.num_rows == 0:
        return table
    indexed = table.append_column("__row", pa.array(range(table.num_rows), pa.int64()))
    ordered = indexed.sort_by(
        [*((k, "ascending") for k in keys), (order_by, "descending"), ("__row", "descending")]
    )
    first = pa.array([True] + [False] * (ordered.num_rows - 1))
    for key in keys:
        column = ordered.column(key).combine_chunks()
        changed = pc.not_equal(column.slice(1), column.slice(0, len(column) - 1))
        changed = pa.concat_arrays([pa.array([True]), pc.fill_null(changed, True)])
        first = pc.or_(first, changed)
    return ordered.filter(first).drop_columns(["__row"])


def explain(values: ArrayLike, prefix: str) -> pa.Array:
    """``prefix`` + each offending value, for a quarantine's ``_reason``."""
    shown = pc.fill_null(pc.cast(values, pa.string()), "<null>")
    return pc.binary_join_element_wise(pa.scalar(prefix), shown, "")


Check = tuple[ArrayLike, ArrayLike]
"""A row check: (failed per row, reason per row)."""


def split_rejects(raw: pa.Table, clean: pa.Table, checks: list[Check]) -> tuple[pa.Table, pa.Table]:
    """``clean`` rows that pass every check, and ``raw`` rows that fail one with ``_reason``.

    Checks are listed in priority order: a row's reason is its first failing check. A check
    whose result is null counts as failed.
    """
    reason = pa.nulls(raw.num_rows, pa.string())
    for failed, why in reversed(checks):
        reason = pc.if_else(pc.fill_null(failed, True), why, reason)
    bad = pc.is_valid(reason)
    rejects = raw.filter(bad).append_column("_reason", pc.filter(reason, bad))
    return clean.filter(pc.invert(bad)), rejects


def unreadable(parsed: ArrayLike, raw: ArrayLike) -> pa.Array:
    """Where a present raw value did not parse."""
    return pc.and_(pc.is_null(parsed), pc.is_valid(raw))


_MONTH = re.compile(r"^\s*(\d{4})\s*(?:年|-|/|\.)\s*(\d{1,2})\s*月?\s*$")


def parse_month(text: str | None) -> date | None:
    """A month such as ``2024年5月``, ``2024-05`` or ``2024/5`` as its first day, else ``None``."""
    match = _MONTH.match(text or "")
    if match is None:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    return date(year, month, 1) if 1 <= month <= 12 else None
