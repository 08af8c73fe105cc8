"""Pydantic models of ``conf/exchange/``: department nodes and their subscriptions.

A node is a receiving department with named endpoints: file drop folders (SFTP, FTP, FTPS or a
local folder) and databases (PostgreSQL, MySQL/MariaDB, SQLite). Credentials come from the
Airflow Connection ``conn_id``; ``default_url`` is used when that connection is not defined (the
embedded demo delivers to local folders and a SQLite file this way). A subscription sends one
dataset (optionally some columns and rows) to one endpoint of one node, on a schedule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from govlake import row_filter
from govlake.config.models import (
    DatasetRef,
    Deadline,
    Identifier,
    PasswordFreeUrl,
    Strict,
    known_schedule,
    no_logical_date,
)
from govlake.config.notifications import PlatformNotifications

FileFormat = Literal["csv", "jsonl", "parquet", "xlsx"]


class FileEndpoint(Strict):
    """A drop folder: ``sftp://``, ``ftp://``, ``ftps://`` or ``file://`` by its connection."""

    kind: Literal["files"]
    name: Identifier
    conn_id: Identifier
    default_url: PasswordFreeUrl | None = Field(
        default=None, description="URL used when the connection is not defined (file:///...)."
    )
    folder: str = Field(default="/", description="Folder on the server that receives the files.")


class DatabaseEndpoint(Strict):
    """A database that receives tables, upserted by the dataset's keys."""

    kind: Literal["database"]
    name: Identifier
    conn_id: Identifier
    default_url: PasswordFreeUrl | None = None
    database_schema: str | None = Field(
        default=None, description="Schema (PostgreSQL) the tables are created in."
    )


Endpoint = Annotated[FileEndpoint | DatabaseEndpoint, Field(discriminator="kind")]


class Node(Strict):
    """A department's exchange node: where its deliveries go."""

    name: Identifier
    department: Identifier
    title: str
    endpoints: list[Endpoint] = Field(min_length=1)

    @field_validator("endpoints")
    @classmethod
    def _unique_names(cls, endpoints: list[Endpoint]) -> list[Endpoint]:
        names = [e.name for e in endpoints]
        if len(set(names)) != len(names):
            raise ValueError(f"endpoint names repeat: {names}")
        return endpoints

    def endpoint(self, name: str) -> FileEndpoint | DatabaseEndpoint:
        """The endpoint called ``name``."""
        return next(e for e in self.endpoints if e.name == name)


class FileSettings(Strict):
    """How a file delivery is written."""

    format: FileFormat = "csv"
    encoding: Literal["utf-8", "gbk"] = Field(
        default="utf-8", description="Text encoding of CSV files (GBK for older systems)."
    )

    @model_validator(mode="after")
    def _encoding_is_for_csv(self) -> FileSettings:
        if self.encoding != "utf-8" and self.format != "csv":
            raise ValueError(
                f"encoding {self.encoding} applies to csv only; {self.format} is UTF-8"
            )
        return self


class Subscription(Strict):
    """One flow: a dataset to a node's endpoint, full or incremental, on a schedule."""

    name: Identifier
    title: str
    dataset: DatasetRef
    node: Identifier
    endpoint: Identifier
    columns: list[str] | None = Field(default=None, description="Columns sent (default: all).")
    filter: str | None = Field(
        default=None,
        description="Condition on the dataset's columns (govlake.row_filter): only matching rows.",
    )
    file: FileSettings | None = Field(default=None, description="For file endpoints.")
    table: Identifier | None = Field(
        default=None, description="Target table for database endpoints (default: dataset name)."
    )
    mode: Literal["full", "incremental"] = Field(
        default="full",
        description="full sends the whole dataset; incremental the rows changed since the last "
        "delivered version (Delta change data feed).",
    )
    schedule: str = Field(
        default="on_update",
        description="Cron, an @preset, or on_update (when the dataset changes).",
    )
    retries: int = Field(default=3, ge=0, le=10)
    retry_delay_minutes: int = Field(default=2, ge=0)
    deadline: Deadline | None = Field(
        default=None, description="A delivery run not done by then raises a delay alert."
    )

    @field_validator("schedule")
    @classmethod
    def _known_schedule(cls, value: str) -> str:
        return known_schedule(value)

    @field_validator("filter")
    @classmethod
    def _parsed_filter(cls, value: str | None) -> str | None:
        if value is not None:
            row_filter.parse(value)
        return value

    @model_validator(mode="after")
    def _deadline_has_a_reference(self) -> Subscription:
        no_logical_date(self.deadline, self.schedule)
        return self


class PlatformDatabase(Strict):
    """The platform database: exchange nodes and ledger (SQLite by default)."""

    conn_id: Identifier = "govlake_platform"
    default_url: PasswordFreeUrl | None = Field(
        default=None,
        description="Used when the connection is not defined; default: SQLite in home.",
    )


class PlatformAudit(Strict):
    """The audit ledger's signed checkpoints: files kept outside the platform DB."""

    checkpoints: Path = Field(
        default=Path("audit/checkpoints"),
        description="Folder of the signed checkpoint files; a relative path is under home.",
    )


class PlatformConfig(Strict):
    """``conf/platform.yaml``."""

    database: PlatformDatabase = PlatformDatabase()
    audit: PlatformAudit = PlatformAudit()
    notifications: PlatformNotifications = PlatformNotifications()
