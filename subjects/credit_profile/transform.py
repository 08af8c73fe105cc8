"""The gold enterprise credit profile: registry, social insurance and penalties, by credit code.

One row per registered enterprise: its identity and status, its social-insurance record (months
paid, latest headcount, total paid, last payment) and its penalties (count, total fines, last
decision), with a risk level the sharing departments can filter on:

- ``high``: revoked, or two penalties or more;
- ``medium``: one penalty, or no social-insurance payment on record;
- ``low``: otherwise.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from jobs.standardise import latest_per_key
from jobs.transform import Derived

PROFILE_SCHEMA = pa.schema(
    [
        pa.field("uscc", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("region_code", pa.string(), nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("registered_capital_yuan", pa.decimal128(18, 2)),
        pa.field("social_insurance_months", pa.int64(), nullable=False),
        pa.field("latest_insured_count", pa.int32()),
        pa.field("social_insurance_paid_yuan", pa.decimal128(38, 2), nullable=False),
        pa.field("last_paid_on", pa.date32()),
        pa.field("penalty_count", pa.int64(), nullable=False),
        pa.field("penalty_fines_yuan", pa.decimal128(38, 2), nullable=False),
        pa.field("last_penalty_on", pa.date32()),
        pa.field("risk_level", pa.string(), nullable=False),
    ]
)
ZERO = pa.scalar(0, pa.decimal128(38, 2))


def fuse(inputs: dict[str, pa.Table]) -> Derived:
    """Join the three silver tables on ``uscc`` (left join from the registry)."""
    registry = inputs["silver.enterprise_registry"]
    payments = inputs["silver.social_insurance_payments"]
    penalties = inputs["silver.penalty_notices"]

    paid = payments.group_by("uscc").aggregate(
        [("month", "count"), ("amount_yuan", "sum"), ("paid_on", "max")]
    )
    latest = latest_per_key(payments, ["uscc"], "month").select(["uscc", "insured_count"])
    fined = penalties.group_by("uscc").aggregate(
        [("decision_number", "count"), ("fine_yuan", "sum"), ("decided_on", "max")]
    )
    joined = (
        registry.select(["uscc", "name", "status", "registered_capital_yuan"])
        .join(paid, "uscc", join_type="left outer")
        .join(latest, "uscc", join_type="left outer")
        .join(fined, "uscc", join_type="left outer")
        .sort_by("uscc")
    )
    months = pc.fill_null(joined.column("month_count"), 0)
    penalty_count = pc.fill_null(joined.column("decision_number_count"), 0)
    risk = pc.if_else(
        pc.or_(pc.equal(joined.column("status"), "revoked"), pc.greater_equal(penalty_count, 2)),
        "high",
        pc.if_else(pc.or_(pc.equal(penalty_count, 1), pc.equal(months, 0)), "medium", "low"),
    )
    profile = pa.table(
        {
            "uscc": joined.column("uscc"),
            "name": joined.column("name"),
            "region_code": pc.utf8_slice_codeunits(joined.column("uscc"), 2, 8),
            "status": joined.column("status"),
            "registered_capital_yuan": joined.column("registered_capital_yuan"),
            "social_insurance_months": months,
            "latest_insured_count": joined.column("insured_count"),
            "social_insurance_paid_yuan": pc.fill_null(
                joined.column("amount_yuan_sum").cast(pa.decimal128(38, 2)), ZERO
            ),
            "last_paid_on": joined.column("paid_on_max"),
            "penalty_count": penalty_count,
            "penalty_fines_yuan": pc.fill_null(
                joined.column("fine_yuan_sum").cast(pa.decimal128(38, 2)), ZERO
            ),
            "last_penalty_on": joined.column("decided_on_max"),
            "risk_level": risk,
        }
    )
    return Derived(rows=profile.cast(PROFILE_SCHEMA))
