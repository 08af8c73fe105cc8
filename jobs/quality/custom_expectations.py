"""Expectations for Chinese government identifiers (rules of python-stdnum).

Importing this module registers ``expect_column_values_to_be_valid_uscc`` (unified social credit
code, GB 32100-2015) and ``expect_column_values_to_be_valid_resident_id`` (GB 11643) with Great
Expectations, so suite files can name them like the built-in expectations.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics import (
    ColumnMapMetricProvider,
    column_condition_partial,
)
from stdnum.cn import ric

from jobs.identifiers import uscc_valid


class ColumnValuesValidUscc(ColumnMapMetricProvider):
    """Whether each value is a unified social credit code with a correct check digit."""

    condition_metric_name = "column_values.valid_uscc"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:  # noqa: N805
        values = pa.array(column.astype(object).where(column.notna(), None), pa.string())
        return pd.Series(uscc_valid(values), index=column.index)


class ExpectColumnValuesToBeValidUscc(ColumnMapExpectation):
    """Expect unified social credit codes valid per GB 32100-2015 (form and check digit)."""

    map_metric = "column_values.valid_uscc"
    success_keys = ("mostly",)


class ColumnValuesValidResidentId(ColumnMapMetricProvider):
    """Whether each value is a resident identity number with a valid date and check digit."""

    condition_metric_name = "column_values.valid_resident_id"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:  # noqa: N805
        return column.map(ric.is_valid)


class ExpectColumnValuesToBeValidResidentId(ColumnMapExpectation):
    """Expect resident identity numbers valid per GB 11643 (birth date and check digit)."""

    map_metric = "column_values.valid_resident_id"
    success_keys = ("mostly",)
