"""Transforms of the market-regulation enterprise registry: bronze -> silver -> gold."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from jobs.standardise import (
    explain,
    latest_per_key,
    map_distinct,
    normalise_text,
    normalise_uscc,
    parse_amount_yuan,
    parse_date,
    split_rejects,
    unreadable,
    uscc_is_valid,
)
from jobs.transform import Derived

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
            explain(raw.column("uscc"), "uscc: fails GB 32100-2015 form or check digit: "),
        ),
        (pc.is_null(name), explain(raw.column("name"), "name: missing: ")),
        (
            unreadable(capital, raw.column("registered_capital")),
            explain(raw.column("registered_capital"), "registered_capital: unreadable amount: "),
        ),
        (
            unreadable(established, raw.column("established")),
            explain(raw.column("established"), "established: unreadable date: "),
        ),
        (pc.is_null(status), explain(raw.column("status"), "status: unknown value: ")),
    ]
    typed = pa.table(
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
    )
    clean, rejects = split_rejects(raw, typed, checks)
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
