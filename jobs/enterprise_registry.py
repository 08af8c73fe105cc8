"""Transforms of the market-regulation enterprise registry: bronze -> silver -> gold."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from jobs.derive import Derived
from jobs.standardise import (
    latest_per_key,
    map_distinct,
    normalise_text,
    normalise_uscc,
    parse_amount_yuan,
    parse_date,
    uscc_is_valid,
)

STATUS_CODES = {
    "存续": "active",
    "在业": "active",
    "开业": "active",
    "正常": "active",
    "注销": "cancelled",
    "吊销": "revoked",
    "迁出": "moved_out",
}

SILVER_SCHEMA = pa.schema(
    [
        pa.field("uscc", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("legal_representative", pa.string()),
        pa.field("registered_capital_yuan", pa.decimal128(18, 2)),
        pa.field("address", pa.string()),
        pa.field("established_on", pa.date32()),
        pa.field("status", pa.string(), nullable=False),
        pa.field("updated_at", pa.timestamp("us")),
    ]
)

DIRECTORY_SCHEMA = pa.schema(
    [
        pa.field("uscc", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("region_code", pa.string(), nullable=False),
        pa.field("legal_representative", pa.string()),
        pa.field("registered_capital_10k_yuan", pa.decimal128(22, 6)),
        pa.field("established_on", pa.date32()),
        pa.field("status", pa.string(), nullable=False),
        pa.field("updated_at", pa.timestamp("us")),
    ]
)


def _explain(values: pa.Array, prefix: str) -> pa.Array:
    """``prefix`` + the offending value, for the quarantine's ``_reason``."""
    shown = pc.fill_null(pc.cast(values, pa.string()), "<null>")
    return pc.binary_join_element_wise(pa.scalar(prefix), shown, "")


def standardise(inputs: dict[str, pa.Table]) -> Derived:
    """Clean raw registry rows; rows failing a check are rejected with the first failure."""
    raw = inputs["bronze.enterprise_registry"]
    code = normalise_uscc(raw.column("uscc"))
    name = normalise_text(raw.column("name"))
    capital = map_distinct(
        normalise_text(raw.column("registered_capital")), parse_amount_yuan, pa.decimal128(18, 2)
    )
    established = map_distinct(normalise_text(raw.column("established")), parse_date, pa.date32())
    status = map_distinct(normalise_text(raw.column("status")), STATUS_CODES.get, pa.string())
    checks = [  # first failing check wins: listed in priority order
        (
            pc.invert(uscc_is_valid(code)),
            _explain(raw.column("uscc"), "uscc: fails GB 32100-2015 form or check digit: "),
        ),
        (pc.is_null(name), _explain(raw.column("name"), "name: missing: ")),
        (
            pc.and_(pc.is_null(capital), pc.is_valid(raw.column("registered_capital"))),
            _explain(raw.column("registered_capital"), "registered_capital: unreadable amount: "),
        ),
        (
            pc.and_(pc.is_null(established), pc.is_valid(raw.column("established"))),
            _explain(raw.column("established"), "established: unreadable date: "),
        ),
        (pc.is_null(status), _explain(raw.column("status"), "status: unknown value: ")),
    ]
    reason = pa.nulls(raw.num_rows, pa.string())
    for failed, why in reversed(checks):
        reason = pc.if_else(pc.fill_null(failed, True), why, reason)
    bad = pc.is_valid(reason)
    clean = pa.table(
        {
            "uscc": code,
            "name": name,
            "legal_representative": normalise_text(raw.column("legal_representative")),
            "registered_capital_yuan": capital,
            "address": normalise_text(raw.column("address")),
            "established_on": established,
            "status": status,
            "updated_at": raw.column("updated_at"),
        }
    ).filter(pc.invert(bad))
    rejects = raw.filter(bad).append_column("_reason", pc.filter(reason, bad))
    rows = latest_per_key(clean, ["uscc"], "updated_at").cast(SILVER_SCHEMA)
    return Derived(rows=rows, rejects=rejects)


def publish_directory(inputs: dict[str, pa.Table]) -> Derived:
    """The public enterprise directory: region from the code, capital in 10k yuan."""
    silver = inputs["silver.enterprise_registry"]
    capital = pc.multiply(
        silver.column("registered_capital_yuan"), pa.scalar(Decimal("0.0001"), pa.decimal128(5, 4))
    )
    directory = pa.table(
        {
            "uscc": silver.column("uscc"),
            "name": silver.column("name"),
            "region_code": pc.utf8_slice_codeunits(silver.column("uscc"), 2, 8),
            "legal_representative": silver.column("legal_representative"),
            "registered_capital_10k_yuan": capital,
            "established_on": silver.column("established_on"),
            "status": silver.column("status"),
            "updated_at": silver.column("updated_at"),
        }
    )
    return Derived(rows=directory.cast(DIRECTORY_SCHEMA))
