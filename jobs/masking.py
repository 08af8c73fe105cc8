"""Masking by classification: how sensitive values are shown where a grant does not clear them.

The ``sensitive_columns`` rules of ``conf/catalog.yaml`` say which columns are sensitive (by
name, as the catalog marks them) and how each is masked; :func:`masks_for` applies them to a
dataset's columns and :func:`mask_batch` / :func:`mask_table` to its data, so that every share
path masks the same way. Masks keep the column names, types and field metadata (a column
masked as ``null`` becomes nullable) and leave nulls null:

- ``id_number``: the first 6 and last 4 characters, ``*`` for each between;
- ``phone``: the digits only (a ``+86``/``0086`` before a mobile number dropped), the last 4
  kept and ``*`` for each other;
- ``name``: the first character, ``*`` for each other;
- ``address``: the province, prefecture and county-level division it starts with, nothing
  else (empty when it starts with none);
- ``token``: the first 32 hex digits of HMAC-SHA256(key, UTF-8 value): equal values give equal
  tokens under one key, so two shares join on them, and without the key a token says nothing;
- ``null``: nulls of the column's type.

A value no longer than what its mask keeps is ``*`` throughout. Every mask but ``null``
applies to string columns only: a masked value cannot keep the type of another column, so any
other type is an error naming the column (mask it as ``null``, or share it as text). Every
mask but ``token`` is a few Arrow compute kernels; ``token`` hashes each distinct value in
Python, there being no HMAC in Arrow (docs/masking.md gives the cost of each).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from typing import TypeAlias, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from govlake.config.catalog import MaskKind, SensitiveRule, rule_for
from govlake.connections import env_var, secret
from govlake.errors import GovlakeError

__all__ = ["MaskKind", "Masks", "mask_batch", "mask_key", "mask_table", "masks_for"]

Masks: TypeAlias = Mapping[str, MaskKind]
"""Column name -> how its values are masked."""

KEY_VARIABLE = "GOVLAKE_MASK_KEY"
KEY_CONNECTION = "govlake_masking"
MIN_KEY_BYTES = 32  # as long as the SHA-256 the key is used with
TOKEN_HEX_DIGITS = 32  # 128 bits: no collision expected among billions of distinct values

# The address mask reads divisions only before the first digit, 街, 号, 村, 小区, 社区 or 园区
# (street level: no division's name has them). A division's name may start with 市 (市中区) but
# holds no other marker. Few, small character classes keep RE2 fast on CJK text.
_STREET_LEVEL = r"(?s)(?:[0-9\x{FF10}-\x{FF19}街号村]|小区|社区|园区).*$"  # and full-width digits
_NAME = r"[ \x{3000}]*[^省区县旗\s][^省市区县旗\s]*?"  # after spaces, ideographic too
_DIVISIONS = (
    rf"^(?P<kept>(?:{_NAME}(?:省|自治区|特别行政区))?(?:{_NAME}(?:市|自治州|地区|盟))?"
    rf"(?:{_NAME}(?:区|县|旗县?)|{_NAME}市)?)"
)

Data = TypeVar("Data", pa.RecordBatch, pa.Table)


def masks_for(
    columns: Iterable[str], rules: Iterable[SensitiveRule], clear: Iterable[str] = ()
) -> dict[str, MaskKind]:
    """How each sensitive column among ``columns`` is masked, save those given in ``clear``.

    A column is sensitive when a rule matches its name (the first such rule applies), as in
    the catalog's entries.
    """
    rules, shown = list(rules), set(clear)
    return {
        column: rule.mask
        for column in columns
        if column not in shown and (rule := rule_for(column, rules)) is not None
    }


def mask_key() -> bytes | None:
    """The key of the ``token`` mask (``GOVLAKE_MASK_KEY``, else a Connection's password).

    ``None`` when neither is set: :func:`mask_batch` then refuses token masks, saying where to
    set it. A key shorter than 32 bytes is an error; no message shows a key.
    """
    found = secret(KEY_VARIABLE, KEY_CONNECTION)
    if found is None:
        return None
    value, origin = found
    return _long_enough(value.encode("utf-8"), f"the masking key in {origin}")


def mask_batch(batch: pa.RecordBatch, masks: Masks, *, token_key: bytes | None) -> pa.RecordBatch:
    """``batch`` with the columns of ``masks`` masked (see the module's rules)."""
    return _masked(batch, masks, token_key)


def mask_table(table: pa.Table, masks: Masks, *, token_key: bytes | None) -> pa.Table:
    """``table`` with the columns of ``masks`` masked, chunk by chunk."""
    return _masked(table, masks, token_key)


def _masked(data: Data, masks: Masks, token_key: bytes | None) -> Data:
    missing = sorted(set(masks) - set(data.schema.names))
    if missing:
        raise GovlakeError(f"masks given for columns the data does not have: {missing}")
    columns = [
        _mask_column(field, column, masks[field.name], token_key) if field.name in masks else column
        for field, column in zip(data.schema, data.columns, strict=True)
    ]
    fields = [
        field.with_nullable(True) if masks.get(field.name) == "null" else field
        for field in data.schema
    ]
    schema = pa.schema(fields, metadata=data.schema.metadata)
    return type(data).from_arrays(columns, schema=schema)


def _mask_column(
    field: pa.Field, values: pa.Array | pa.ChunkedArray, kind: MaskKind, token_key: bytes | None
) -> pa.Array | pa.ChunkedArray:
    mask = _mask_function(field, kind, token_key)
    if isinstance(values, pa.ChunkedArray):
        return pa.chunked_array([mask(chunk) for chunk in values.chunks], type=field.type)
    return mask(values)


def _mask_function(
    field: pa.Field, kind: MaskKind, token_key: bytes | None
) -> Callable[[pa.Array], pa.Array]:
    """The mask of ``field``'s arrays, or an error saying why ``kind`` cannot mask it."""
    if kind == "null":
        return lambda values: pa.nulls(len(values), field.type)
    if not (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
        raise GovlakeError(
            f"column {field.name!r} is {field.type}: mask {kind!r} applies to strings only "
            "(mask it as null, or share it as text)"
        )
    if kind == "token":
        keyed = hmac.new(_token_key(field.name, token_key), digestmod=hashlib.sha256)
        return lambda values: _token(values, keyed)
    return _TEXT_MASKS[kind]


def _token_key(column: str, key: bytes | None) -> bytes:
    if key is None:
        raise GovlakeError(
            f"column {column!r} is masked by token, which needs a key: set {KEY_VARIABLE} or the "
            f"password of the connection {KEY_CONNECTION!r} ({env_var(KEY_CONNECTION)} or an "
            f"Airflow Connection), at least {MIN_KEY_BYTES} bytes, e.g. from "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return _long_enough(key, "the masking key")


def _long_enough(key: bytes, what: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise GovlakeError(f"{what} is shorter than {MIN_KEY_BYTES} bytes")
    return key


def _keep_ends(values: pa.Array, head: int, tail: int) -> pa.Array:
    """The first ``head`` and last ``tail`` characters, ``*`` for each between.

    A value of at most ``head + tail`` characters is ``*`` throughout.
    """
    star = pa.scalar("*", values.type)
    length = pc.utf8_length(values)
    hidden = pc.subtract(length, head + tail)
    parts = [
        pc.utf8_slice_codeunits(values, 0, head),
        pc.binary_repeat(star, pc.max_element_wise(hidden, 0)),
    ]
    if tail:
        parts.append(pc.utf8_slice_codeunits(values, -tail))
    kept = pc.binary_join_element_wise(*parts, pa.scalar("", values.type))
    return pc.if_else(pc.greater(hidden, 0), kept, pc.binary_repeat(star, length))


def _id_number(values: pa.Array) -> pa.Array:
    return _keep_ends(values, 6, 4)


def _phone(values: pa.Array) -> pa.Array:
    digits = pc.replace_substring_regex(values, r"\D+", "")
    national = pc.replace_substring_regex(digits, r"^(?:00)?86(1\d{10})$", r"\1")
    return _keep_ends(national, 0, 4)


def _name(values: pa.Array) -> pa.Array:
    return _keep_ends(values, 1, 0)


def _address(values: pa.Array) -> pa.Array:
    """The province, prefecture and county-level division an address starts with, each if any.

    Each is the shortest name before its marker: a province before 省, 自治区 or 特别行政区; a
    prefecture before 市, 自治州, 地区 or 盟; a county-level division before 区, 县 or 旗 (旗县
    for 社旗县), else a county-level city before 市.
    """
    head = pc.replace_substring_regex(values, _STREET_LEVEL, "", max_replacements=1)
    return pc.struct_field(pc.extract_regex(head, _DIVISIONS), [0])


def _token(values: pa.Array, keyed: hmac.HMAC) -> pa.Array:
    """Each distinct value's HMAC once, spread back to its rows."""
    encoded = pc.dictionary_encode(values)
    tokens = pa.array(
        [_hmac_hex(keyed, value) for value in encoded.dictionary.to_pylist()], values.type
    )
    return pc.take(tokens, encoded.indices)


def _hmac_hex(keyed: hmac.HMAC, value: str) -> str:
    digest = keyed.copy()
    digest.update(value.encode("utf-8"))
    return digest.hexdigest()[:TOKEN_HEX_DIGITS]


_TEXT_MASKS: dict[MaskKind, Callable[[pa.Array], pa.Array]] = {
    "id_number": _id_number,
    "phone": _phone,
    "name": _name,
    "address": _address,
}
