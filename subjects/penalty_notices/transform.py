"""Administrative-penalty notices crawled from market regulation's website: bronze -> silver."""

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
    split_rejects,
    uscc_is_valid,
)
from jobs.transform import Derived

SILVER_SCHEMA = pa.schema(
    [
        pa.field("decision_number", pa.string(), nullable=False),
        pa.field("uscc", pa.string(), nullable=False),
        pa.field("party", pa.string()),
        pa.field("violation", pa.string()),
        pa.field("basis", pa.string()),
        pa.field("fine_yuan", pa.decimal128(18, 2)),
        pa.field("decided_on", pa.date32(), nullable=False),
        pa.field("authority", pa.string()),
        pa.field("url", pa.string(), nullable=False),
    ]
)


def standardise(inputs: dict[str, pa.Table]) -> Derived:
    """One row per decision: credit code checked, fine in yuan, decision date typed."""
    raw = inputs["bronze.penalty_notices"]
    number = normalise_text(raw.column("decision_number"))
    code = normalise_uscc(raw.column("uscc"))
    fine = map_distinct(normalise_text(raw.column("fine")), parse_amount_yuan, pa.decimal128(18, 2))
    decided = map_distinct(normalise_text(raw.column("decided")), parse_date, pa.date32())
    checks = [
        (pc.is_null(number), explain(raw.column("_url"), "decision_number: missing on page ")),
        (
            pc.invert(uscc_is_valid(code)),
            explain(raw.column("uscc"), "uscc: fails GB 32100-2015: "),
        ),
        (pc.is_null(decided), explain(raw.column("decided"), "decided: unreadable date: ")),
        (
            pc.and_(pc.is_null(fine), pc.is_valid(raw.column("fine"))),
            explain(raw.column("fine"), "fine: unreadable amount: "),
        ),
    ]
    typed = pa.table(
        {
            "decision_number": number,
            "uscc": code,
            "party": normalise_text(raw.column("party")),
            "violation": normalise_text(raw.column("violation")),
            "basis": normalise_text(raw.column("basis")),
            "fine_yuan": fine,
            "decided_on": decided,
            "authority": normalise_text(raw.column("authority")),
            "url": raw.column("_url"),
        }
    )
    clean, rejects = split_rejects(raw, typed, checks)
    rows = latest_per_key(clean, ["decision_number"], "decided_on").cast(SILVER_SCHEMA)
    return Derived(rows=rows, rejects=rejects)
