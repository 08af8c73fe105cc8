"""Pydantic models of everything declared in ``conf/``.

Each model forbids unknown fields, so a typo in YAML is an error that names the field rather
than a setting silently ignored. Cross-file references (owners, sources, inputs) are checked in
:mod:`govlake.config.checks`, which knows where each value came from.
"""

from __future__ import annotations

import codecs
import re
from datetime import timedelta
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

Zone = Literal["bronze", "silver", "gold"]
WriteMode = Literal["append", "overwrite", "overwrite_partition", "merge"]
Classification = Literal["public", "internal", "sensitive", "restricted"]
SharingType = Literal["unconditional", "conditional", "not_shared"]
OpenType = Literal["open", "conditional_open", "not_open"]

IDENTIFIER = r"^[a-z][a-z0-9_]*$"
Identifier = Annotated[str, Field(pattern=IDENTIFIER, max_length=63)]
DatasetRef = Annotated[str, Field(pattern=r"^(bronze|silver|gold)\.[a-z][a-z0-9_]*$")]
ObjectPath = Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")]


def _password_free(url: str) -> str:
    if urlsplit(url).password:
        raise ValueError("must not carry a password: put credentials in the Airflow Connection")
    return url


PasswordFreeUrl = Annotated[str, AfterValidator(_password_free)]
"""A fallback URL in conf: never with a password (secrets live in Connections or env vars)."""


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

    @field_validator("maintenance_schedule")
    @classmethod
    def _known_schedule(cls, value: str) -> str:
        return known_schedule(value)


class SparkConfig(Strict):
    """How the batch engine starts: local threads by default, a standalone master when set."""

    master: str = "local[*]"
    shuffle_partitions: int = Field(default=4, ge=1)
    driver_memory: str = "2g"
    options: dict[str, str] = Field(default_factory=dict)


class EngineConfig(Strict):
    """Compute engine settings."""

    spark: SparkConfig = SparkConfig()


class Organisation(Strict):
    """A level of government above the departments: the province, or a city within it.

    Organisations and departments form one tree (``level`` province > city > department):
    an organisation administrator's authority covers the subtree under its organisation.
    """

    code: Identifier
    name: str
    level: Literal["province", "city"]
    parent: Identifier | None = Field(
        default=None, description="The province a city belongs to; a province has none."
    )


class Department(Strict):
    """A department that owns datasets or receives exchanges."""

    code: Identifier
    name: str
    parent: Identifier | None = Field(
        default=None, description="The province or city (an organisation) it belongs to."
    )
    stewards: list[str] = Field(
        default_factory=list,
        description=(
            "Users to hold data_steward over the department (govlake users import-stewards)."
        ),
    )


DriftPolicy = Literal["evolve", "fail"]


class SourceBase(Strict):
    """What every source declares: identity, owner and how schema drift is handled.

    ``schema_drift: evolve`` adds columns that appear at the source to the bronze table;
    ``fail`` stops the load with a message naming the column. A changed type always fails.
    """

    name: Identifier
    title: str
    owner: Identifier
    schema_drift: DriftPolicy = "evolve"


class ConnectedSource(SourceBase):
    """A source reached through an Airflow Connection.

    The connection comes from the Airflow Connection ``conn_id`` (env var
    ``AIRFLOW_CONN_<CONN_ID>``); ``default_url`` is a password-free fallback for the embedded
    default and local development.
    """

    default_url: PasswordFreeUrl | None = None


class DatabaseStream(Strict):
    """One table read from a database source."""

    name: Identifier
    table: str
    primary_key: list[str] = Field(min_length=1)
    cursor: str | None = Field(
        default=None, description="Monotonic column for incremental loads; full load if unset."
    )
    batch_size: int = Field(default=50_000, ge=1, le=5_000_000)


class DatabaseSource(ConnectedSource):
    """A relational database read through SQLAlchemy."""

    kind: Literal["database"]
    conn_id: Identifier
    streams: list[DatabaseStream] = Field(min_length=1)

    def stream(self, name: str) -> DatabaseStream | None:
        """The stream called ``name``, if declared."""
        return next((s for s in self.streams if s.name == name), None)


FileFormat = Literal["csv", "jsonl", "json", "xlsx", "parquet"]
TEXT_FORMATS = {"csv", "jsonl", "json"}


class FileStream(Strict):
    """Files matching one glob in a drop folder, all of the same layout."""

    name: Identifier
    pattern: str = Field(description="Glob matched against file names in the folder.")
    format: FileFormat
    encoding: str = Field(
        default="auto",
        description="Text encoding (utf-8, utf-8-sig, gbk, gb18030...) or 'auto' to detect.",
    )
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    sheet: str | None = Field(default=None, description="Excel sheet; the first when unset.")
    columns: list[str] | None = Field(
        default=None, description="Expected header; a file whose columns differ is refused."
    )
    archive_folder: str | None = Field(
        default=None, description="Folder a file is moved to once its rows are committed."
    )
    batch_rows: int = Field(default=100_000, ge=1, le=5_000_000)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        if value == "auto":
            return value
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown text encoding {value!r}") from None
        return value


class FileSource(ConnectedSource):
    """A drop folder: local, on an FTP(S) server or on an SFTP server.

    For ``transport: local`` the folder is a local path and no connection is used.
    """

    kind: Literal["files"]
    transport: Literal["local", "ftp", "ftps", "sftp"]
    conn_id: Identifier | None = None
    folder: str
    streams: list[FileStream] = Field(min_length=1)

    @model_validator(mode="after")
    def _connection_for_remote(self) -> FileSource:
        if self.transport != "local" and self.conn_id is None:
            raise ValueError(f"transport {self.transport} needs a conn_id")
        return self

    def stream(self, name: str) -> FileStream | None:
        """The stream called ``name``, if declared."""
        return next((s for s in self.streams if s.name == name), None)


class ApiStream(Strict):
    """One paginated JSON endpoint."""

    name: Identifier
    path: str = Field(description="Path below the connection's base URL.")
    records: str = Field(
        default="", description="Dotted path to the list of records in a response; '' = root."
    )
    pagination: Literal["none", "page", "offset", "cursor"] = "none"
    page_size: int = Field(default=100, ge=1, le=10_000)
    page_param: str = "page"
    size_param: str = "page_size"
    offset_param: str = "offset"
    cursor_param: str = "cursor"
    next_cursor: str = Field(
        default="next", description="Dotted path to the next page's cursor in a response."
    )
    params: dict[str, str] = Field(default_factory=dict)
    max_pages: int = Field(default=10_000, ge=1)


class ApiSource(ConnectedSource):
    """An HTTP JSON API; the Connection's password is sent as a bearer token."""

    kind: Literal["http_api"]
    conn_id: Identifier
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=5, ge=0, le=20)
    backoff_seconds: float = Field(default=1.0, ge=0)
    streams: list[ApiStream] = Field(min_length=1)

    def stream(self, name: str) -> ApiStream | None:
        """The stream called ``name``, if declared."""
        return next((s for s in self.streams if s.name == name), None)


class CrawlStream(Strict):
    """A crawl: list pages followed by selectors, detail pages parsed into items.

    Selectors are CSS (``::text`` and ``::attr(x)`` allowed) or XPath when they start with
    ``/`` or ``(``. A hand-written spider class may replace the declarative one.
    """

    name: Identifier
    start_urls: list[str] = Field(min_length=1)
    allowed_domains: list[str] = Field(min_length=1)
    follow: list[str] = Field(
        default_factory=list, description="Selectors of links to more list pages."
    )
    items: str | None = Field(default=None, description="Selector of links to detail pages.")
    fields: dict[str, str] = Field(
        default_factory=dict, description="Item field -> selector on a detail page."
    )
    spider: ObjectPath | None = Field(default=None, description="Hand-written spider class.")
    max_pages: int = Field(default=10_000, ge=1)
    max_items: int = Field(default=0, ge=0, description="0 = no limit.")
    download_delay: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _spider_or_selectors(self) -> CrawlStream:
        if self.spider is None and (self.items is None or not self.fields):
            raise ValueError("set 'items' and 'fields', or a hand-written 'spider'")
        return self


class CrawlSource(SourceBase):
    """A website crawled with Scrapy; obeys robots.txt and throttles itself."""

    kind: Literal["crawl"]
    user_agent: str = "govlake-crawler (+data platform)"
    streams: list[CrawlStream] = Field(min_length=1)

    def stream(self, name: str) -> CrawlStream | None:
        """The stream called ``name``, if declared."""
        return next((s for s in self.streams if s.name == name), None)


Source = Annotated[
    DatabaseSource | FileSource | ApiSource | CrawlSource, Field(discriminator="kind")
]


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


class DatasetCatalog(Strict):
    """A dataset's ``catalog:`` block: what its generated catalog entry cannot read from metadata.

    Sharing and open types default from the classification (see :mod:`govlake.config.catalog`).
    """

    category: Identifier = "government_affairs"
    sharing: SharingType | None = Field(
        default=None, description="Default: from the classification (public -> unconditional)."
    )
    sharing_conditions: str | None = Field(
        default=None, description="For conditional sharing; a standard text by default."
    )
    open: OpenType | None = Field(default=None, description="Default: from the classification.")
    columns: dict[str, str] = Field(
        default_factory=dict, description="Column name -> description (the column comment)."
    )

    @model_validator(mode="after")
    def _conditions_for_conditional(self) -> DatasetCatalog:
        if self.sharing_conditions and self.sharing not in (None, "conditional"):
            raise ValueError(f"sharing_conditions given, but sharing is {self.sharing}")
        return self


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
    catalog: DatasetCatalog = DatasetCatalog()

    @property
    def ref(self) -> str:
        """``zone.name``, the dataset's name everywhere (SQL, assets, CLI)."""
        return f"{self.zone}.{self.name}"

    @property
    def asset_uri(self) -> str:
        """``delta://<zone>/<table>``: the Airflow Asset its DAG task updates."""
        return f"delta://{self.zone}/{self.name}"

    @model_validator(mode="after")
    def _build_is_complete(self) -> Dataset:
        if self.zone == "bronze":
            if self.collect is None or self.inputs or self.transform:
                raise ValueError(
                    "a bronze dataset is collected: set 'collect', not inputs/transform"
                )
        elif self.collect is not None or not self.inputs or self.transform is None:
            raise ValueError(f"a {self.zone} dataset is derived: set 'inputs' and 'transform'")
        if self.engine == "spark" and len(self.inputs) > 1 and not self.keys:
            raise ValueError(
                "engine: spark with several inputs needs 'keys': the inputs meet by them"
            )
        if self.write == "merge" and not self.keys:
            raise ValueError("write: merge needs 'keys'")
        if self.write == "overwrite_partition" and not self.partition_by:
            raise ValueError("write: overwrite_partition needs 'partition_by'")
        return self


SCHEDULE_PRESETS = {"@once", "@hourly", "@daily", "@weekly", "@monthly", "@yearly", "on_update"}
CRON = re.compile(r"^(\S+\s+){4}\S+$")


def known_schedule(value: str) -> str:
    """``value`` when it is a preset or a valid five-field cron (fields in range); else an error."""
    if value in SCHEDULE_PRESETS:
        return value
    from croniter import croniter

    if CRON.match(value) and croniter.is_valid(value):
        return value
    raise ValueError(
        f"not a cron expression with five fields in range, or one of {sorted(SCHEDULE_PRESETS)}"
    )


DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def duration(value: object) -> timedelta:
    """``2h``, ``90m``, ``1d12h``, ``45s`` as a positive time span; anything else an error."""
    if isinstance(value, timedelta):
        return value
    found = DURATION.match(str(value).strip()) if isinstance(value, str | int) else None
    if not found or not any(found.groups()):
        raise ValueError(f"{value!r} is not a duration such as 30m, 2h or 1d12h")
    days, hours, minutes, seconds = (int(g or 0) for g in found.groups())
    span = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if not span:
        raise ValueError(f"{value!r} is no time at all: a deadline needs a positive duration")
    return span


Duration = Annotated[timedelta, BeforeValidator(duration)]


class Deadline(Strict):
    """When a run is late: ``after`` this long from when it was queued or its logical date.

    A run still not done then raises one delay alert (docs/adr/0020-delay-alerts.md).
    """

    after: Duration
    reference: Literal["queued_at", "logical_date"] = "queued_at"


def no_logical_date(deadline: Deadline | None, schedule: str | None) -> None:
    """Refuse a deadline from the logical date where runs have none (on_update, unscheduled)."""
    if deadline and deadline.reference == "logical_date" and schedule in (None, "on_update"):
        raise ValueError(
            f"deadline.reference logical_date needs a timetable: runs scheduled {schedule} "
            "have no logical date; use reference: queued_at"
        )


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
    deadline: Deadline | None = Field(
        default=None, description="A run not done by then raises a delay alert."
    )

    @field_validator("schedule")
    @classmethod
    def _known_schedule(cls, value: str | None) -> str | None:
        return value if value is None else known_schedule(value)

    @model_validator(mode="after")
    def _deadline_has_a_reference(self) -> Pipeline:
        no_logical_date(self.deadline, self.schedule)
        return self
