"""Values of suite parameters that are only known at run time.

- ``min_row_count``: the fewest rows a write may carry. For ``overwrite`` datasets, the previous
  version's row count less ``max_row_drop``; for incremental ones, the input rows less
  ``max_row_drop`` (a cleaning step that suddenly rejects most rows is caught).
- ``fresh_since``: now less ``freshness_hours``, for ``expect_column_max_to_be_between``
  (the one definition of freshness: :mod:`jobs.quality.freshness`).
- ``values_of__<zone>__<table>__<column>``: the distinct values of another table's column, for
  referential checks with ``expect_column_values_to_be_in_set`` (Great Expectations parses
  parameter names as expressions, hence no dots).
"""

from __future__ import annotations

import math
from typing import Any

import pyarrow.compute as pc

from govlake.config.models import Dataset
from govlake.errors import GovlakeError
from govlake.lakehouse import Lakehouse
from jobs.quality import freshness


def resolve(
    names: set[str], *, dataset: Dataset, input_rows: int | None, lake: Lakehouse
) -> dict[str, Any]:
    """The value of every named parameter for a write to ``dataset``."""
    values: dict[str, Any] = {}
    for name in sorted(names):
        if name == "min_row_count":
            values[name] = _min_row_count(dataset, input_rows, lake)
        elif name == freshness.PARAMETER:
            oldest = freshness.cutoff(dataset.quality.freshness_hours)
            values[name] = oldest.replace(tzinfo=None).isoformat()
        elif name.startswith("values_of__"):
            values[name] = _values_of(name.removeprefix("values_of__"), lake)
        else:
            raise GovlakeError(f"{dataset.ref}: unknown suite parameter {name!r}")
    return values


def _min_row_count(dataset: Dataset, input_rows: int | None, lake: Lakehouse) -> int:
    if dataset.write.startswith("overwrite") or input_rows is None:
        base = lake.describe(dataset.ref).rows if lake.exists(dataset.ref) else 0
    else:
        base = input_rows
    return math.floor(base * (1.0 - dataset.quality.max_row_drop))


def _values_of(target: str, lake: Lakehouse) -> list[Any]:
    zone, _, rest = target.partition("__")
    table, _, column = rest.rpartition("__")
    ref = f"{zone}.{table}"
    if not table or not column:
        raise GovlakeError(f"suite parameter values_of__{target}: expected zone__table__column")
    if not lake.exists(ref):
        raise GovlakeError(f"referential check on {ref}.{column}: table {ref} does not exist yet")
    values = lake.read(ref, columns=[column]).column(column)
    return pc.unique(pc.drop_null(values)).to_pylist()
