"""A fusion of several inputs on Spark: rows of one key meet in one task, whatever the buckets."""

from __future__ import annotations

import socket
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pytest

from govlake.config.models import SparkConfig
from govlake.errors import GovlakeError
from jobs.spark.session import spark_session
from jobs.spark.transform import run_on_spark
from subjects.credit_profile.transform import fuse

pytestmark = pytest.mark.integration
CODES = [f"91330100MA{i:07d}X" for i in range(60)]


def _silver() -> dict[str, pa.Table]:
    money = pa.decimal128(18, 2)
    registry = pa.table(
        {
            "uscc": CODES,
            "name": [f"企业{i}" for i in range(60)],
            "status": ["revoked" if i % 10 == 0 else "active" for i in range(60)],
            "registered_capital_yuan": pa.array([Decimal(i * 1000) for i in range(60)], money),
        }
    )
    paid = [c for i, c in enumerate(CODES) if i % 3]
    payments = pa.table(
        {
            "uscc": paid * 2,
            "month": [date(2026, 1, 1)] * len(paid) + [date(2026, 2, 1)] * len(paid),
            "insured_count": pa.array(range(2 * len(paid)), pa.int32()),
            "amount_yuan": pa.array([Decimal("1234.50")] * 2 * len(paid), money),
            "paid_on": [date(2026, 1, 15)] * len(paid) + [date(2026, 2, 15)] * len(paid),
        }
    )
    fined = [c for i, c in enumerate(CODES) if i % 4 == 0] + CODES[:3]
    penalties = pa.table(
        {
            "uscc": fined,
            "decision_number": [f"杭市监罚〔2026〕{i}号" for i in range(len(fined))],
            "fine_yuan": pa.array([Decimal("5000")] * len(fined), money),
            "decided_on": [date(2026, 3, 1)] * len(fined),
        }
    )
    return {
        "silver.enterprise_registry": registry,
        "silver.social_insurance_payments": payments,
        "silver.penalty_notices": penalties,
    }


@pytest.mark.parametrize("buckets", [1, 7])
def test_fusion_on_spark_equals_fusion_in_one_process(spark, buckets: int) -> None:  # noqa: ANN001
    inputs = _silver()
    expected = fuse(inputs).rows
    fused = run_on_spark(
        spark,
        "subjects.credit_profile.transform:fuse",
        inputs,
        keys=["uscc"],
        latest_by=None,
        partitions=buckets,
    ).rows
    assert fused.schema == expected.schema
    assert fused.sort_by("uscc").to_pylist() == expected.to_pylist()
    assert fused.num_rows == 60
    risk = dict(zip(fused["uscc"].to_pylist(), fused["risk_level"].to_pylist(), strict=True))
    assert risk[CODES[0]] == "high" and risk[CODES[4]] == "medium" and risk[CODES[5]] == "low"


def test_an_input_without_the_key_column_is_named(spark) -> None:  # noqa: ANN001
    inputs = _silver()
    inputs["silver.penalty_notices"] = inputs["silver.penalty_notices"].rename_columns(
        ["credit_code", "decision_number", "fine_yuan", "decided_on"]
    )
    with pytest.raises(GovlakeError, match=r"input silver.penalty_notices has no key column uscc"):
        run_on_spark(
            spark,
            "subjects.credit_profile.transform:fuse",
            inputs,
            keys=["uscc"],
            latest_by=None,
            partitions=2,
        )


def test_an_unreachable_master_is_named_at_once() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(GovlakeError, match=rf"Spark master spark://127.0.0.1:{port} cannot be"):
        spark_session(SparkConfig(master=f"spark://127.0.0.1:{port}"))
