"""Expectations for Chinese government identifiers (rules of python-stdnum).

Importing this module registers ``expect_column_values_to_be_valid_uscc`` (unified social credit
code, GB 32100-2015) and ``expect_column_values_to_be_valid_resident_id`` (GB 11643) with Great
Expectations, so suite files can name them like the built-in expectations.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd
import pyarrow as pa
from great_expectations.core import ExpectationValidationResult
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
from great_expectations.expectations.metrics import (
    ColumnMapMetricProvider,
    column_condition_partial,
)
from great_expectations.render import LegacyRendererType, RenderedStringTemplateContent
from great_expectations.render.renderer.renderer import renderer
from great_expectations.render.renderer_configuration import (
    RendererConfiguration,
    RendererValueType,
)
from stdnum.cn import ric

from jobs.identifiers import uscc_valid


class _Readable:
    """Data Docs say what the expectation asks in words, not as a raw call."""

    rule: ClassVar[str]

    @classmethod
    def _template(cls, mostly: float | None) -> str:
        share = ", at least $mostly_pct % of the time" if mostly is not None and mostly < 1 else ""
        return f"$column values must be {cls.rule}{share}."

    @classmethod
    def _prescriptive_template(
        cls, renderer_configuration: RendererConfiguration
    ) -> RendererConfiguration:
        renderer_configuration.add_param(name="column", param_type=RendererValueType.STRING)
        renderer_configuration.add_param(name="mostly", param_type=RendererValueType.NUMBER)
        mostly = renderer_configuration.params.mostly
        if mostly is not None and mostly.value < 1:
            renderer_configuration = ColumnMapExpectation._add_mostly_pct_param(
                renderer_configuration=renderer_configuration
            )
        renderer_configuration.template_str = cls._template(mostly.value if mostly else None)
        return renderer_configuration

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(
        cls,
        configuration: ExpectationConfiguration | None = None,
        result: ExpectationValidationResult | None = None,
        runtime_configuration: dict[str, Any] | None = None,
    ) -> list[RenderedStringTemplateContent]:
        config = configuration or (result.expectation_config if result else None)
        assert config is not None
        params = dict(config.kwargs)
        mostly = params.get("mostly")
        if mostly is not None:
            params["mostly_pct"] = f"{float(mostly) * 100:g}"
        return [
            RenderedStringTemplateContent(
                content_block_type="string_template",
                string_template={"template": cls._template(mostly), "params": params,
                                 "styling": {"params": {"column": {"classes": ["badge"]}}}},
            )
        ]  # fmt: skip


class ColumnValuesValidUscc(ColumnMapMetricProvider):
    """Whether each value is a unified social credit code with a correct check digit."""

    condition_metric_name = "column_values.valid_uscc"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:  # noqa: N805
        values = pa.array(column.astype(object).where(column.notna(), None), pa.string())
        return pd.Series(uscc_valid(values), index=column.index)


class ExpectColumnValuesToBeValidUscc(_Readable, ColumnMapExpectation):
    """Expect unified social credit codes valid per GB 32100-2015 (form and check digit)."""

    rule: ClassVar[str] = "unified social credit codes (统一社会信用代码) valid per GB 32100-2015"

    map_metric = "column_values.valid_uscc"
    success_keys = ("mostly",)


class ColumnValuesValidResidentId(ColumnMapMetricProvider):
    """Whether each value is a resident identity number with a valid date and check digit."""

    condition_metric_name = "column_values.valid_resident_id"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:  # noqa: N805
        return column.map(ric.is_valid)


class ExpectColumnValuesToBeValidResidentId(_Readable, ColumnMapExpectation):
    """Expect resident identity numbers valid per GB 11643 (birth date and check digit)."""

    rule: ClassVar[str] = "resident identity numbers (公民身份号码) valid per GB 11643"

    map_metric = "column_values.valid_resident_id"
    success_keys = ("mostly",)
