"""pandera contracts at the boundaries: source -> bronze and bronze -> silver.

A contract is a pandera ``DataFrameSchema`` named in the dataset's conf (``contract:
module:name``). A violation stops the write before anything is committed, with a message that
names the column, the row and the value.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from functools import cache

import pandera.pandas as pandera
import pyarrow as pa

from govlake.errors import GovlakeError

SHOWN = 5


class ContractError(GovlakeError):
    """Rows break a dataset's data contract."""


@cache
def load_contract(path: str) -> pandera.DataFrameSchema:
    """Import ``module:name``."""
    module, _, name = path.partition(":")
    try:
        schema = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise GovlakeError(f"contract {path!r} cannot be loaded: {exc}") from None
    if not isinstance(schema, pandera.DataFrameSchema):
        raise GovlakeError(f"contract {path!r} is not a pandera DataFrameSchema")
    return schema


def check(
    table: pa.Table | pa.RecordBatch, contract: str, *, where: str, first_row: int = 0
) -> None:
    """Raise :class:`ContractError` naming column, row and value if ``table`` breaks it."""
    schema = load_contract(contract)
    try:
        schema.validate(table.to_pandas(), lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases.to_dict("records")
        shown = "; ".join(
            f"column {c['column']!r} row {_row(c['index'], first_row)}: {c['check']} "
            f"(value {c['failure_case']!r})"
            for c in cases[:SHOWN]
        )
        more = f" and {len(cases) - SHOWN} more" if len(cases) > SHOWN else ""
        raise ContractError(f"{where}: breaks contract {contract}: {shown}{more}") from None


def _row(index: object, first_row: int) -> str:
    return str(int(index) + first_row) if isinstance(index, int | float) else "-"


def checked(reader: pa.RecordBatchReader, contract: str, *, where: str) -> pa.RecordBatchReader:
    """Check each batch of a stream as it passes; rows are numbered across the stream."""

    def batches() -> Iterator[pa.RecordBatch]:
        seen = 0
        for batch in reader:
            check(batch, contract, where=where, first_row=seen)
            seen += batch.num_rows
            yield batch

    return pa.RecordBatchReader.from_batches(reader.schema, batches())
