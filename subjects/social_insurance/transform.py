"""Human resources' social-insurance payments: bronze (as dropped, Chinese headers) -> silver."""

from __future__ import annotations

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
    parse_month,
    split_rejects,
    unreadable,
    uscc_is_valid,
)
from jobs.transform import Derived

SILVER_SCHEMA = pa.schema(
    [
        pa.field("uscc", pa.string(), nullable=False),
        pa.field("month", pa.date32(), nullable=False),
        pa.field("employer_name", pa.string()),
        pa.field("insured_count", pa.int32(), nullable=False),
        pa.field("amount_yuan", pa.decimal128(18, 2), nullable=False),
        pa.field("paid_on", pa.date32(), nullable=False),
        pa.field("source_file", pa.string()),
    ]
)


def standardise(inputs: dict[str, pa.Table]) -> Derived:
    """One row per employer and month: typed, code checked, the latest payment wins."""
    raw = inputs["bronze.social_insurance_payments"]
    code = normalise_uscc(raw.column("统一社会信用代码"))
    month = map_distinct(normalise_text(raw.column("缴费年月")), parse_month, pa.date32())
    insured_text = normalise_text(raw.column("参保人数"))
    insured = pc.cast(
        pc.if_else(pc.match_substring_regex(insured_text, r"^\d{1,7}$"), insured_text, None),
        pa.int32(),
    )
    amount = map_distinct(
        normalise_text(raw.column("缴费金额")), parse_amount_yuan, pa.decimal128(18, 2)
    )
    paid = map_distinct(normalise_text(raw.column("缴费日期")), parse_date, pa.date32())
    checks = [
        (
            pc.invert(uscc_is_valid(code)),
            explain(raw.column("统一社会信用代码"), "统一社会信用代码: fails GB 32100-2015: "),
        ),
        (pc.is_null(month), explain(raw.column("缴费年月"), "缴费年月: unreadable month: ")),
        (pc.is_null(insured), explain(raw.column("参保人数"), "参保人数: not a count: ")),
        (pc.is_null(amount), explain(raw.column("缴费金额"), "缴费金额: unreadable amount: ")),
        (
            unreadable(paid, raw.column("缴费日期")),
            explain(raw.column("缴费日期"), "缴费日期: unreadable date: "),
        ),
        (pc.is_null(paid), explain(raw.column("缴费日期"), "缴费日期: missing: ")),
    ]
    typed = pa.table(
        {
            "uscc": code,
            "month": month,
            "employer_name": normalise_text(raw.column("单位名称")),
            "insured_count": insured,
            "amount_yuan": amount,
            "paid_on": paid,
            "source_file": raw.column("_file"),
        }
    )
    clean, rejects = split_rejects(raw, typed, checks)
    rows = latest_per_key(clean, ["uscc", "month"], "paid_on").cast(SILVER_SCHEMA)
    return Derived(rows=rows, rejects=rejects)
