"""Pydantic models of everything declared in ``conf/``.

Each model forbids unknown fields, so a typo in YAML is an error that names the field rather
than a setting silently ignored. Cross-file references (owners, sources, inputs) are checked in
:mod:`govlake.config.loader`, which knows where each value came from.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Zone = Literal["bronze", "silver", "gold"]
WriteMode = Literal["append", "overwrite", "overwrite_partition", "merge"]
Classification = Literal["public", "internal", "sensitive", "restricted"]

IDENTIFIER = r"^[a-z][a-z0-9_]*$"
Identifier = Annotated[str, Field(pattern=IDENTIFIER, max_length=63)]
DatasetRef = Annotated[str, Field(pattern=r"^(bronze|silver|gold)\.[a-z][a-z0-9_]*$")]
ObjectPath = Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")]


class Strict(BaseModel):
    """Base for conf models: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LakehouseConfig(Strict):
    """Where the Delta tables live: a local folder or an object-store URI."""

    root: str = Field(description="Folder or URI under which <zone>/<table> Delta tables live.")
    storage_options: dict[str, str] = Field(
        default_factory=dict,
        description="delta-rs storage options (S3 endpoint, region...); secrets from env vars.",
    )
    vacuum_retention_hours: int = Field(default=168, ge=0)
    maintenance_schedule: str = Field(
        default="@weekly", description="When the lakehouse_maintenance DAG compacts and vacuums."
    )


class SparkConfig(Strict):
    """How the batch engine starts: local threads by default, a standalone master when set."""

    master: str = "local[*]"
    shuffle_partitions: int = Field(default=4, ge=1)
    driver_memory: str = "2g"
    options: dict[str, str] = Field(default_factory=dict)


class EngineConfig(Strict):
    """Compute engine settings."""

    spark: SparkConfig = SparkConfig()


class Department(Strict):
    """A department that owns datasets or receives exchanges."""

    code: Identifier
    name: str


class DatabaseStream(Strict):
    """One table read from a database source."""

    name: Identifier
    table: str
    primary_key: list[str] = Field(min_length=1)
    cursor: str | None = Field(
        default=None, description="Monotonic column for incremental loads; full load if unset."
    )
    batch_size: int = Field(default=50_000, ge=1, le=5_000_000)


class DatabaseSource(Strict):
    """A relational database read through SQLAlchemy.

    The connection comes from the Airflow Connection ``conn_id`` (env var
    ``AIRFLOW_CONN_<CONN_ID>``); ``default_url`` is a password-free fallback for the embedded
    default and local development.
    """

    name: Identifier
    kind: Literal["database"]
    title: str
    owner: Identifier
    conn_id: Identifier
    default_url: str | None = None
    streams: list[DatabaseStream] = Field(min_length=1)

    @field_validator("default_url")
    @classmethod
    def _no_secret_in_url(cls, url: str | None) -> str | None:
        if url is not None and urlsplit(url).password:
            msg = "must not carry a password: put credentials in the Airflow Connection"
            raise ValueError(msg)
        return url

    def stream(self, name: str) -> DatabaseStream | None:
        """The stream called ``name``, if declared."""
        return next((s for s in self.streams if s.name == name), None)


class SourceBinding(Strict):
    """Which source stream a bronze dataset collects."""

    source: Identifier
    stream: Identifier


class Quality(Strict):
    """What a failed validation suite does to a write (suites: expectations/<zone>__<table>.json).

    ``fail`` blocks the commit and fails the task; ``warn`` commits and records; ``quarantine``
    moves the rows that fail a row-level expectation to ``<table>__quarantine`` and commits the
    rest (a failed table-level expectation still blocks, unless marked ``on_failure: warn``).
    """

    policy: Literal["fail", "warn", "quarantine"] = "fail"
    max_row_drop: float = Field(default=0.5, ge=0.0, le=1.0)
    freshness_hours: int = Field(default=48, ge=1)


class Dataset(Strict):
    """A lakehouse table: its identity, ownership, grading and how it is built."""

    zone: Zone
    name: Identifier
    title: str
    description: str = ""
    owner: Identifier
    keys: list[str] = Field(default_factory=list)
    classification: Classification = "internal"
    partition_by: list[str] = Field(default_factory=list)
    write: WriteMode = "append"
    latest_by: str | None = Field(
        default=None,
        description="On merge, a matched row is replaced only by a row not older by this column.",
    )
    collect: SourceBinding | None = None
    inputs: list[DatasetRef] = Field(default_factory=list)
    transform: ObjectPath | None = None
    contract: ObjectPath | None = Field(
        default=None, description="pandera schema (module:name) the rows must satisfy."
    )
    quality: Quality = Quality()
    engine: Literal["arrow", "spark"] = Field(
        default="arrow",
        description="Where the transform runs: in the task (arrow) or on Spark executors.",
    )

    @property
    def ref(self) -> str:
        """``zone.name``, the dataset's name everywhere (SQL, assets, CLI)."""
        return f"{self.zone}.{self.name}"

    @model_validator(mode="after")
    def _build_is_complete(self) -> Dataset:
        if self.zone == "bronze":
            if self.collect is None or self.inputs or self.transform:
                raise ValueError(
                    "a bronze dataset is collected: set 'collect', not inputs/transform"
                )
        elif self.collect is not None or not self.inputs or self.transform is None:
            raise ValueError(f"a {self.zone} dataset is derived: set 'inputs' and 'transform'")
        if self.engine == "spark" and len(self.inputs) != 1:
            raise ValueError("engine: spark runs transforms of exactly one input")
        if self.write == "merge" and not self.keys:
            raise ValueError("write: merge needs 'keys'")
        if self.write == "overwrite_partition" and not self.partition_by:
            raise ValueError("write: overwrite_partition needs 'partition_by'")
        return self


SCHEDULE_PRESETS = {"@once", "@hourly", "@daily", "@weekly", "@monthly", "@yearly", "on_update"}
CRON = re.compile(r"^(\S+\s+){4}\S+$")


class Pipeline(Strict):
    """One Airflow DAG: the datasets it builds, in dependency order, and when it runs."""

    name: Identifier
    title: str
    description: str
    owner: Identifier
    schedule: str | None = Field(
        default=None,
        description="Cron, an @preset, 'on_update' (run when an input dataset changes) or null.",
    )
    builds: list[DatasetRef] = Field(min_length=1)
    retries: int = Field(default=2, ge=0, le=10)
    retry_delay_minutes: int = Field(default=5, ge=0)
    tags: list[str] = Field(default_factory=list)

    @field_validator("schedule")
    @classmethod
    def _known_schedule(cls, value: str | None) -> str | None:
        if value is None or value in SCHEDULE_PRESETS or CRON.match(value):
            return value
        raise ValueError(f"not a cron expression or one of {sorted(SCHEDULE_PRESETS)}")
