"""Pydantic model of ``conf/catalog.yaml``, and the defaults the catalog applies to datasets.

The catalog is generated from pipeline metadata. Conf holds only what metadata cannot say: the
resource categories, who publishes, which column names mark sensitive data and how their values
are masked, and (in each dataset's ``catalog:`` block) the category, sharing and column
descriptions. Sharing and open types default from the dataset's classification.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from govlake.config.models import (
    Classification,
    Dataset,
    Identifier,
    OpenType,
    SharingType,
    Strict,
)

# What a classification implies when a dataset does not say how it is shared or opened.
SHARING_BY_CLASSIFICATION: dict[Classification, SharingType] = {
    "public": "unconditional",
    "internal": "conditional",
    "sensitive": "conditional",
    "restricted": "not_shared",
}
OPEN_BY_CLASSIFICATION: dict[Classification, OpenType] = {
    "public": "open",
    "internal": "not_open",
    "sensitive": "not_open",
    "restricted": "not_open",
}


def sharing_of(dataset: Dataset) -> SharingType:
    """How ``dataset`` is shared: its ``catalog.sharing``, else what its classification implies."""
    return dataset.catalog.sharing or SHARING_BY_CLASSIFICATION[dataset.classification]


DEFAULT_CONDITIONS = "依申请共享：经提供部门审核同意、平台授权后使用"


class Category(Strict):
    """A resource category of the provincial catalogue (extendable in conf)."""

    code: Identifier
    name: str


# The standard's categories; conf/catalog.yaml may add more.
STANDARD_CATEGORIES = (
    Category(code="government_affairs", name="政务"),
    Category(code="finance", name="金融"),
    Category(code="energy", name="能源"),
    Category(code="industry", name="工业"),
    Category(code="enterprise", name="企业"),
    Category(code="transport", name="交通"),
    Category(code="geographic", name="地理"),
    Category(code="public_opinion", name="舆情"),
)


MaskKind = Literal["id_number", "phone", "name", "address", "token", "null"]
"""How a sensitive value is shown when a grant does not give it in clear (see jobs.masking)."""


class SensitiveRule(Strict):
    """Columns whose name matches ``pattern`` hold sensitive data of kind ``label``.

    Where a grant does not give such a column in clear its values are masked by ``mask``;
    without one, the column is shared as nulls.
    """

    pattern: str = Field(description="Regular expression matched against the whole column name.")
    label: str
    mask: MaskKind = Field(
        default="null", description="How values are masked where not given in clear."
    )

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return pattern

    def matches(self, column: str) -> bool:
        """Whether ``column`` is covered by this rule."""
        return re.fullmatch(self.pattern, column) is not None


def rule_for(column: str, rules: Iterable[SensitiveRule]) -> SensitiveRule | None:
    """The first rule covering ``column``, ``None`` if it is not sensitive."""
    return next((rule for rule in rules if rule.matches(column)), None)


class HandlingTimes(Strict):
    """How long each step of a resource application may wait, in working days (Monday to Friday).

    A step waiting longer warns whoever may take it; ``escalate_after`` working days later it
    is escalated to the administrators of the organisation that handles it. Working days are
    counted in ``timezone``; public holidays are not known, so they count as working days.
    """

    accept: int = Field(default=1, ge=1, le=60, description="Working days to accept or reject.")
    approve: int = Field(default=3, ge=1, le=60, description="Working days for the owner.")
    authorize: int = Field(default=1, ge=1, le=60, description="Working days to authorise.")
    escalate_after: int = Field(
        default=2, ge=1, le=60, description="Working days from the warning to the escalation."
    )
    timezone: str = Field(default="Asia/Shanghai", description="Where a working day is counted.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (say Asia/Shanghai)") from None
        return value


class CatalogConfig(Strict):
    """``conf/catalog.yaml``: codes, categories, who runs the platform, sensitive columns."""

    resource_code_prefix: str = Field(
        default="GL", pattern=r"^[A-Z0-9]{1,12}$", description="Prefix of every resource code."
    )
    platform_department: Identifier = Field(
        default="platform", description="The department whose stewards publish entries."
    )
    extra_categories: list[Category] = Field(default_factory=list)
    sensitive_columns: list[SensitiveRule] = Field(default_factory=list)
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="Data elements: column name -> description, wherever the column appears.",
    )
    handling: HandlingTimes = Field(
        default=HandlingTimes(), description="Working days each application step may wait."
    )

    @property
    def categories(self) -> dict[str, Category]:
        """The standard's categories and the extra ones, by code."""
        return {c.code: c for c in (*STANDARD_CATEGORIES, *self.extra_categories)}
