"""What an application asks for and what the grant that authorises it allows.

An application names the resource (a published catalog code), the matter (事项) it serves, the
scenario, the supporting materials, the fields wanted (none: every column), the share mode, the
update cycle, the purpose and the period. The data provider and the data source are not asked:
they are copied from the catalog entry when the application is made.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

ShareMode = Literal[
    "single_query",
    "composite_query",
    "service_api",
    "table",
    "file_download",
    "share_interface",
    "subscription",
]
SHARE_MODES: tuple[ShareMode, ...] = get_args(ShareMode)
Status = Literal[
    "submitted",
    "accepted",
    "rejected_at_acceptance",
    "approved",
    "rejected_by_owner",
    "authorized",
    "refused_authorization",
    "active",
    "expired",
    "revoked",
]


class Request(BaseModel):
    """The applicant's form."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    matter: str = Field(min_length=1, max_length=500, description="事项信息: the matter served")
    scenario: str = Field(min_length=1, max_length=2000, description="应用场景")
    materials: list[str] = Field(default_factory=list, description="材料名称")
    fields: list[str] = Field(default_factory=list, description="columns wanted; none: all")
    mode: ShareMode
    update_cycle: str | None = Field(default=None, max_length=64)
    purpose: str = Field(min_length=1, max_length=2000)
    until: date = Field(description="the last day of the period applied for")

    @field_validator("until")
    @classmethod
    def _in_the_future(cls, until: date) -> date:
        if until <= datetime.now(UTC).date():
            raise ValueError(f"the period must end after today, not {until}")
        return until


class Terms(BaseModel):
    """What a grant allows: columns, a row filter, columns in clear, a quota."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: list[str]
    row_filter: str | None = None
    clear: list[str] = Field(default_factory=list, description="sensitive columns not masked")
    per_minute: int | None = Field(default=None, ge=1, description="calls allowed per minute")
