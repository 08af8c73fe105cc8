"""pandera data contracts for rows crossing the source -> bronze and bronze -> silver boundaries.

A contract states what the next step relies on: columns present, types, nullability. Business
rules (check digits, allowed values) belong to the Great Expectations suites of silver and gold.
"""

import pandera.pandas as pa

enterprise_registry_raw = pa.DataFrameSchema(
    {
        "uscc": pa.Column(str, nullable=True),
        "name": pa.Column(str, nullable=True),
        "legal_representative": pa.Column(str, nullable=True),
        "registered_capital": pa.Column(str, nullable=True),
        "address": pa.Column(str, nullable=True),
        "established": pa.Column(str, nullable=True),
        "status": pa.Column(str, nullable=True),
        "updated_at": pa.Column("datetime64[ns]", nullable=False, coerce=True),
    },
    strict=False,
    name="enterprise_registry_raw",
)
