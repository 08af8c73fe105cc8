"""pandera contracts: violations name the column, the row and the value."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pytest

from jobs.quality.contracts import ContractError, check, checked

pytestmark = pytest.mark.unit
RAW = "subjects.enterprise_registry.contracts:enterprise_registry_raw"


def _raw(updated: list[datetime | None], uscc: list[object] | None = None) -> pa.Table:
    n = len(updated)
    text = ["x"] * n
    return pa.table(
        {
            "uscc": uscc if uscc is not None else text,
            "name": text,
            "legal_representative": text,
            "registered_capital": text,
            "address": text,
            "established": text,
            "status": text,
            "updated_at": pa.array(updated, pa.timestamp("us")),
        }
    )


def test_good_rows_pass() -> None:
    check(_raw([datetime(2024, 1, 1)] * 3), RAW, where="bronze.enterprise_registry")


def test_violation_names_column_row_and_value() -> None:
    with pytest.raises(ContractError) as caught:
        check(_raw([datetime(2024, 1, 1), None]), RAW, where="bronze.enterprise_registry")
    message = str(caught.value)
    assert message.startswith("bronze.enterprise_registry: breaks contract " + RAW)
    assert "column 'updated_at' row 1: not_nullable" in message


def test_wrong_type_is_named() -> None:
    with pytest.raises(ContractError, match=r"column 'uscc' row 0: dtype\('str'\) \(value 12\)"):
        check(_raw([datetime(2024, 1, 1)], uscc=[12]), RAW, where="t")


def test_stream_rows_are_numbered_across_batches() -> None:
    good = _raw([datetime(2024, 1, 1)] * 3).to_batches()[0]
    bad = _raw([datetime(2024, 1, 1), None]).to_batches()[0]
    reader = pa.RecordBatchReader.from_batches(good.schema, iter([good, bad]))
    with pytest.raises(ContractError, match="row 4: not_nullable"):
        checked(reader, RAW, where="t").read_all()
