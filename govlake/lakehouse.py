"""The Delta Lake lakehouse: zones of Delta tables, written atomically and idempotently.

Every write is one Delta commit that carries, in its commit metadata, the pipeline, the run id,
the batch id and (for collection) the source cursor, so the cursor can never advance without
its rows. A batch id is recorded as a Delta application transaction: writing the same batch
twice commits nothing the second time, which makes task retries and re-runs safe.

A build pins the tables it writes (:meth:`Lakehouse.pinned`) before it reads their state
(cursor, file register, input versions): each of its commits is made against the version it
last saw and carries the build application transaction, so Delta's own conflict check refuses
the commit if another build committed to the table in between, on any host.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError

from govlake.config.models import LakehouseConfig, WriteMode
from govlake.errors import GovlakeError, UnknownDatasetError
from govlake.progress import tracked

LINEAGE_COLUMNS = ("_batch_id", "_source", "_ingested_at")
META_PREFIX = "govlake."
QUARANTINE_SUFFIX = "__quarantine"
CHANGE_DATA_FEED = "delta.enableChangeDataFeed"
ZONES = ("bronze", "silver", "gold", "platform")
PLATFORM_TABLES = ("platform.quality_results",)
CDF_COLUMNS = ("_change_type", "_commit_version", "_commit_timestamp")
BUILD_APP_ID = "govlake:build"
"""The application transaction every pinned commit carries, its version one past the pinned
table version (0 when it creates the table): two builds committing from the same version
conflict in Delta's own commit check."""


@dataclass(frozen=True)
class CollectedFile:
    """One entry of the file register: a file whose rows were committed, as it was collected.

    ``duplicate_of`` names the file first loaded with the same content; such a file was only
    registered, its rows not loaded again.
    """

    path: str
    size: int
    mtime: int
    sha256: str
    duplicate_of: str | None = None

    def to_json(self) -> str:
        """The entry as stored in commit metadata (``duplicate_of`` only when set)."""
        entry = {k: v for k, v in asdict(self).items() if v is not None}
        return json.dumps(entry, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> CollectedFile:
        """The entry stored by :meth:`to_json`."""
        return cls(**json.loads(raw))


@dataclass(frozen=True)
class Commit:
    """Who writes and why: stored in the Delta commit metadata of every write."""

    pipeline: str
    run_id: str
    batch_id: str
    source: str
    cursor: dict[str, Any] | None = None
    inputs: dict[str, int] = field(default_factory=dict)
    file: CollectedFile | None = None
    quality: dict[str, Any] | None = None
    """The validation of the rows, so its record survives a crash right after the commit."""

    def metadata(self) -> dict[str, str]:
        """The commit's custom metadata (string values, namespaced ``govlake.``)."""
        meta = {
            "govlake.pipeline": self.pipeline,
            "govlake.run_id": self.run_id,
            "govlake.batch_id": self.batch_id,
            "govlake.source": self.source,
        }
        if self.cursor is not None:
            meta["govlake.cursor"] = json.dumps(self.cursor, ensure_ascii=False)
        if self.inputs:
            meta["govlake.inputs"] = json.dumps(self.inputs)
        if self.file is not None:
            meta["govlake.file"] = self.file.to_json()
        if self.quality is not None:
            meta["govlake.quality"] = json.dumps(self.quality, ensure_ascii=False)
        return meta

    @property
    def app_id(self) -> str:
        """The Delta application-transaction id that marks this batch as committed."""
        return f"govlake:{self.batch_id}"


@dataclass(frozen=True)
class WriteResult:
    """The outcome of one write: the new version, or why nothing was committed."""

    ref: str
    rows: int
    version: int | None
    status: Literal["committed", "already_committed", "no_rows"]


@dataclass(frozen=True)
class TableInfo:
    """One lakehouse table as the ``tables`` command shows it."""

    ref: str
    version: int
    rows: int
    files: int
    size_bytes: int
    last_commit: datetime
    last_operation: str
    missing_files: tuple[str, ...] = ()
    """Files the Delta log references that are not in storage (the table cannot be read)."""


class BrokenTableError(GovlakeError):
    """A table's Delta log cannot be read, or it references files that are gone."""


class ConcurrentBuildError(GovlakeError):
    """Another run committed to a pinned table while this run was building it."""

    def __init__(self, ref: str) -> None:
        """The one-line refusal for ``ref``."""
        super().__init__(
            f"table {ref}: another run holds it (it committed while this run was building); "
            "this commit was refused, run it again once that one has ended"
        )


class Lakehouse:
    """Delta tables addressed as ``zone.table`` under the configured root."""

    def __init__(self, config: LakehouseConfig) -> None:
        """Bind to the lakehouse root and storage options from ``conf/lakehouse.yaml``."""
        self.root = config.root.rstrip("/")
        self.storage_options = dict(config.storage_options) or None
        self.vacuum_retention_hours = config.vacuum_retention_hours
        self._pins: dict[str, int | None] = {}

    def uri(self, ref: str) -> str:
        """Location of the table ``zone.name``."""
        zone, _, name = ref.partition(".")
        if not name or zone not in ZONES:
            raise UnknownDatasetError(f"not a table reference (zone.name): {ref!r}")
        return f"{self.root}/{zone}/{name}"

    def exists(self, ref: str) -> bool:
        """Whether the table has been created."""
        return DeltaTable.is_deltatable(self.uri(ref), storage_options=self.storage_options)

    def table(self, ref: str, version: int | None = None) -> DeltaTable:
        """Open the table, at ``version`` for time travel."""
        if not self.exists(ref):
            raise UnknownDatasetError(f"table {ref} does not exist yet at {self.uri(ref)}")
        try:
            return DeltaTable(self.uri(ref), version=version, storage_options=self.storage_options)
        except (DeltaError, OSError) as exc:
            reason = str(exc).strip().splitlines()[0]
            where = self._bad_log_file(ref) or f"{self.uri(ref)}/_delta_log"
            raise BrokenTableError(
                f"table {ref}: Delta log {where} cannot be read: {reason}"
            ) from None

    def _bad_log_file(self, ref: str) -> str | None:
        """The first commit file of a local table's log that is not JSON lines, if one is."""
        log = Path(self.uri(ref).removeprefix("file://")) / "_delta_log"
        if "://" in self.root and not self.root.startswith("file://"):
            return None
        for commit in sorted(log.glob("*.json")):
            try:
                for line in commit.read_text(encoding="utf-8").splitlines():
                    if line.strip():
                        json.loads(line)
            except (ValueError, OSError):
                return str(commit)
        return None

    def missing_files(self, ref: str, version: int | None = None) -> list[str]:
        """The data files the table's log references that storage does not have."""
        dataset = self.dataset(ref, version, checked=False)
        paths = [f.path for f in dataset.get_fragments()]
        infos = dataset.filesystem.get_file_info(paths)
        return [
            p for p, info in zip(paths, infos, strict=True) if info.type == pafs.FileType.NotFound
        ]

    def version(self, ref: str) -> int | None:
        """Current version, or ``None`` before the first commit."""
        return self.table(ref).version() if self.exists(ref) else None

    def is_committed(self, ref: str, batch_id: str) -> bool:
        """Whether ``batch_id`` has already been committed to the table."""
        if not self.exists(ref):
            return False
        app_id = Commit("", "", batch_id, "").app_id
        return self.table(ref).transaction_version(app_id) is not None

    @contextmanager
    def pinned(self, ref: str) -> Iterator[None]:
        """Pin ``ref`` and its quarantine to their current versions for the block.

        Every write to them in the block commits against the version pinned (then against its
        own last commit) with the build application transaction; a commit another build made
        since is a :class:`ConcurrentBuildError`, and nothing of the write is committed. A
        table absent when pinned must still be absent when first written.
        """
        refs = [ref, ref + QUARANTINE_SUFFIX]
        self._pins.update({r: self.version(r) for r in refs})
        try:
            yield
        finally:
            for r in refs:
                self._pins.pop(r, None)

    def last_metadata(self, ref: str, key: str) -> str | None:
        """The newest commit's value of ``govlake.<key>``; maintenance commits are skipped."""
        if not self.exists(ref):
            return None
        for entry in self.table(ref).history():
            value = entry.get(META_PREFIX + key)
            if value is not None:
                return str(value)
        return None

    def committed_metadata(self, ref: str, key: str, newest: int = 20) -> list[tuple[int, str]]:
        """``(version, value)`` of ``govlake.<key>`` in the ``newest`` commits, newest first."""
        if not self.exists(ref):
            return []
        entries = self.table(ref).history(newest)
        return [(int(e["version"]), str(e[META_PREFIX + key])) for e in entries
                if META_PREFIX + key in e]  # fmt: skip

    def last_cursor(self, ref: str) -> dict[str, Any] | None:
        """The source cursor committed with the table's newest collected rows."""
        raw = self.last_metadata(ref, "cursor")
        return json.loads(raw) if raw else None

    def collected_files(self, ref: str) -> list[CollectedFile]:
        """The files whose rows were committed to the table, newest first (the file register)."""
        if not self.exists(ref):
            return []
        key = META_PREFIX + "file"
        return [CollectedFile.from_json(e[key]) for e in self.table(ref).history() if key in e]

    def mark(self, ref: str, commit: Commit) -> WriteResult:
        """Commit ``commit``'s metadata with no rows (to register, e.g., a file seen again)."""
        schema = pa.schema(self.table(ref).schema().to_arrow())
        empty = pa.schema([f for f in schema if f.name not in LINEAGE_COLUMNS]).empty_table()
        return self.write(ref, empty, commit, mode="append", commit_empty=True)

    def schema(self, ref: str) -> pa.Schema | None:
        """The table's Arrow schema, or ``None`` before its first commit."""
        return pa.schema(self.table(ref).schema().to_arrow()) if self.exists(ref) else None

    def last_inputs(self, ref: str) -> dict[str, int]:
        """Input table versions that the table's newest derived rows were built from."""
        raw = self.last_metadata(ref, "inputs")
        return {k: int(v) for k, v in json.loads(raw).items()} if raw else {}

    def write(
        self,
        ref: str,
        data: pa.Table | pa.RecordBatchReader,
        commit: Commit,
        *,
        mode: WriteMode,
        keys: Sequence[str] = (),
        partition_by: Sequence[str] = (),
        predicate: str | None = None,
        update_condition: str | None = None,
        commit_empty: bool = False,
        evolve_schema: bool = False,
    ) -> WriteResult:
        """Write ``data`` with lineage columns in one Delta commit.

        Args:
            ref: Target table ``zone.name``; created on first write.
            data: Rows to write, streamed batch by batch when given as a reader.
            commit: Commit metadata; its batch id makes the write idempotent.
            mode: ``append``, ``overwrite``, ``overwrite_partition`` (replace the rows matching
                ``predicate``) or ``merge`` (upsert on ``keys``).
            keys: Merge keys.
            partition_by: Partition columns used when the table is created.
            predicate: SQL predicate of the partition replaced by ``overwrite_partition``.
            update_condition: Extra merge condition for updating a matched row, e.g.
                ``s.updated_at >= t.updated_at`` so older rows never overwrite newer ones.
            commit_empty: Commit even when there are no rows, to record the commit metadata
                (e.g. input versions consumed by rows that all went to quarantine).
            evolve_schema: On append, add columns the table does not have yet.

        Returns:
            The committed version and row count, or why nothing was committed.
        """
        if self.is_committed(ref, commit.batch_id):
            return WriteResult(ref, 0, self.version(ref), "already_committed")
        reader = data if isinstance(data, pa.RecordBatchReader) else data.to_reader()
        counted = _CountingReader(_with_lineage(reader, commit), label=f"{ref}: writing")
        first = counted.peek()
        if first is None and mode in {"append", "merge"}:
            if not commit_empty:
                return WriteResult(ref, 0, self.version(ref), "no_rows")
            mode = "append"
        pinned = ref in self._pins
        pin = self._pins.get(ref)
        claim = [Transaction(BUILD_APP_ID, 0 if pin is None else pin + 1)] if pinned else []
        properties = CommitProperties(
            custom_metadata=commit.metadata(),
            app_transactions=[Transaction(commit.app_id, 1), *claim],
        )
        target = self._target(ref)
        stream = counted.reader()
        try:
            if mode == "merge" and isinstance(target, DeltaTable):
                self._merge(ref, target, stream, keys, update_condition, properties)
            else:
                self._write_files(
                    ref, target, stream, mode, partition_by, predicate, properties, evolve_schema
                )
        except CommitFailedError as exc:
            if pinned and "oncurrent" in str(exc):
                raise ConcurrentBuildError(ref) from None
            raise
        except Exception:
            if counted.error is not None:  # the source failed: report its error, not Delta's
                raise counted.error from None
            raise
        version = self._advance(ref, claim[0].version) if claim else self.version(ref)
        return WriteResult(ref, counted.rows, version, "committed")

    def _target(self, ref: str) -> str | DeltaTable:
        """What a write commits against: the pinned version, the newest, or a new table."""
        if ref not in self._pins:
            return self.table(ref) if self.exists(ref) else self.uri(ref)
        pin = self._pins[ref]
        if pin is None:
            if self.exists(ref):  # created by another run since the pin
                raise ConcurrentBuildError(ref)
            return self.uri(ref)
        return self.table(ref, pin)

    def _advance(self, ref: str, claimed: int) -> int:
        """The version of this build's commit, now the pin; refused if another build followed."""
        table = self.table(ref)
        if table.transaction_version(BUILD_APP_ID) != claimed or (
            claimed == 0 and table.version() != 0  # two runs created the table at once
        ):
            raise ConcurrentBuildError(ref)
        self._pins[ref] = table.version()
        return table.version()

    def _write_files(
        self,
        ref: str,
        target: str | DeltaTable,
        stream: pa.RecordBatchReader,
        mode: WriteMode,
        partition_by: Sequence[str],
        predicate: str | None,
        properties: CommitProperties,
        evolve_schema: bool,
    ) -> None:
        if mode == "overwrite_partition" and not predicate:
            raise GovlakeError(f"{ref}: overwrite_partition needs a predicate")
        exists = isinstance(target, DeltaTable)
        common: dict[str, Any] = {
            "partition_by": list(partition_by) or None,
            "configuration": None if exists else {CHANGE_DATA_FEED: "true"},
            "storage_options": self.storage_options,
            "commit_properties": properties,
        }
        if mode in {"append", "merge"}:  # a merge into a new table creates it
            evolve: Literal["merge"] | None = "merge" if evolve_schema and exists else None
            write_deltalake(target, stream, mode="append", schema_mode=evolve, **common)
        else:
            replace_where = predicate if mode == "overwrite_partition" else None
            write_deltalake(target, stream, mode="overwrite", predicate=replace_where, **common)

    def _merge(
        self,
        ref: str,
        target: DeltaTable,
        stream: pa.RecordBatchReader,
        keys: Sequence[str],
        update_condition: str | None,
        properties: CommitProperties,
    ) -> None:
        if not keys:
            raise GovlakeError(f"{ref}: merge needs key columns")
        on = " AND ".join(f't."{k}" = s."{k}"' for k in keys)
        (
            target.merge(
                stream, on, source_alias="s", target_alias="t", commit_properties=properties
            )
            .when_matched_update_all(predicate=update_condition)
            .when_not_matched_insert_all()
            .execute()
        )

    def dataset(
        self,
        ref: str,
        version: int | None = None,
        paths: Sequence[str] | None = None,
        *,
        checked: bool = True,
    ) -> ds.Dataset:
        """A lazy Arrow dataset over the table's active files (optionally only ``paths``).

        Local tables are read with Arrow's native file system; delta-rs's Python file-system
        bridge leaves reader threads that abort the interpreter at exit, so it is used only for
        object stores. A local file the log references but storage lacks is an error naming it
        (unless ``checked`` is off), never a silently short read.
        """
        table = self.table(ref, version)
        wanted = set(paths) if paths is not None else None
        if "://" in self.root and not self.root.startswith("file://"):
            dataset = table.to_pyarrow_dataset()
            fragments = [f for f in dataset.get_fragments() if wanted is None or f.path in wanted]
            return ds.FileSystemDataset(
                fragments, dataset.schema, dataset.format, dataset.filesystem
            )
        schema = pa.schema(table.schema().to_arrow())
        partition_columns = table.metadata().partition_columns
        parquet = ds.ParquetFileFormat()
        filesystem = pafs.LocalFileSystem()
        base = self.uri(ref).removeprefix("file://")
        fragments = []
        for action in pa.table(table.get_add_actions(flatten=True)).to_pylist():
            if wanted is not None and action["path"] not in wanted:
                continue
            condition = pc.scalar(True)
            for column in partition_columns:
                value = action[f"partition.{column}"]
                condition = condition & (
                    pc.field(column).is_null()
                    if value is None
                    else pc.field(column) == pa.scalar(value).cast(schema.field(column).type)
                )
            path = f"{base}/{unquote(action['path'])}"
            if checked and not Path(path).is_file():
                raise BrokenTableError(
                    f"table {ref}: file {path} is in the Delta log but missing from storage"
                )
            fragments.append(
                parquet.make_fragment(path, filesystem, partition_expression=condition)
            )
        return ds.FileSystemDataset(fragments, schema, parquet, filesystem)

    def read(
        self, ref: str, version: int | None = None, columns: Sequence[str] | None = None
    ) -> pa.Table:
        """Read a whole table into memory (small tables and tests)."""
        return self.dataset(ref, version).to_table(columns=list(columns) if columns else None)

    def changes_since(
        self, ref: str, version: int | None, upto: int | None = None
    ) -> tuple[pa.Table, int]:
        """Rows inserted or updated after ``version`` (the whole table when ``None``).

        Read from the table's change data feed, so compactions and other rewrites that change
        no data bring nothing back. Deleted rows are not returned. Reads up to version ``upto``
        (default: the newest) and also returns the version read.
        """
        table = self.table(ref)
        current = table.version() if upto is None else upto
        if version is None:
            return self.read(ref, current), current
        if version >= current:
            return pa.schema(table.schema().to_arrow()).empty_table(), current
        if table.metadata().configuration.get(CHANGE_DATA_FEED) != "true":
            raise GovlakeError(f"{ref} has no change data feed ({CHANGE_DATA_FEED}=true)")
        schema = pa.schema(table.schema().to_arrow())
        changes = pa.table(
            table.load_cdf(starting_version=version + 1, ending_version=current).read_all()
        )
        kind = pc.cast(changes.column("_change_type"), pa.string())
        wanted = pc.is_in(kind, pa.array(["insert", "update_postimage"]))
        rows = changes.select(schema.names).cast(schema)  # delta-rs gives string_view
        return rows.filter(wanted), current

    def describe(self, ref: str) -> TableInfo:
        """Version, size and last commit of a table."""
        dt = self.table(ref)
        actions = pa.table(dt.get_add_actions(flatten=True))
        last = dt.history(1)[0]
        rows = actions.column("num_records").to_pylist() if actions.num_rows else []
        return TableInfo(
            ref=ref,
            version=dt.version(),
            rows=sum(r or 0 for r in rows),
            files=actions.num_rows,
            size_bytes=sum(actions.column("size_bytes").to_pylist()) if actions.num_rows else 0,
            last_commit=datetime.fromtimestamp(last["timestamp"] / 1000, tz=UTC),
            last_operation=str(last.get("operation", "")),
            missing_files=tuple(self.missing_files(ref)),
        )

    def present(self, datasets: Iterable[str]) -> list[str]:
        """Every table that exists: the datasets, their quarantines and the platform's own."""
        return self.existing([*datasets, *PLATFORM_TABLES])

    def existing(self, refs: Iterable[str]) -> list[str]:
        """The given tables and their quarantine companions that exist, in order."""
        found = []
        for ref in refs:
            for candidate in (ref, ref + QUARANTINE_SUFFIX):
                if self.exists(candidate):
                    found.append(candidate)
        return found

    def optimize(self, ref: str) -> dict[str, Any]:
        """Compact small files into larger ones (a new version with the same rows)."""
        return dict(self.table(ref).optimize.compact())

    def vacuum(self, ref: str) -> list[str]:
        """Delete files no longer referenced and older than the retention period.

        Full mode: files never committed (left by a crashed or aborted writer) go too, not only
        those a commit removed.
        """
        return list(
            self.table(ref).vacuum(
                retention_hours=self.vacuum_retention_hours,
                dry_run=False,
                full=True,
            )
        )


def _with_lineage(reader: pa.RecordBatchReader, commit: Commit) -> pa.RecordBatchReader:
    """Append ``_batch_id``, ``_source`` and ``_ingested_at`` to every batch."""
    ingested_at = pa.scalar(datetime.now(UTC), pa.timestamp("us", tz="UTC"))
    base = pa.schema([f for f in reader.schema if f.name not in LINEAGE_COLUMNS])
    schema = (
        base.append(pa.field("_batch_id", pa.string(), nullable=False))
        .append(pa.field("_source", pa.string(), nullable=False))
        .append(pa.field("_ingested_at", pa.timestamp("us", tz="UTC"), nullable=False))
    )

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            n = batch.num_rows
            columns = [batch.column(f.name) for f in base]
            columns += [
                pa.array([commit.batch_id] * n, pa.string()),
                pa.array([commit.source] * n, pa.string()),
                pa.repeat(ingested_at, n),
            ]
            yield pa.RecordBatch.from_arrays(columns, schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


class _CountingReader:
    """Counts rows as they stream by, reports progress, and lets the writer peek at the first."""

    def __init__(self, reader: pa.RecordBatchReader, label: str) -> None:
        self._reader = reader
        self._label = label
        self._head: list[pa.RecordBatch] = []
        self.rows = 0
        self.error: Exception | None = None

    def peek(self) -> pa.RecordBatch | None:
        """The first non-empty batch, kept for the stream; ``None`` if there is none."""
        for batch in self._reader:
            self._head.append(batch)
            if batch.num_rows:
                return batch
        return None

    def reader(self) -> pa.RecordBatchReader:
        """The whole stream, peeked batches first."""

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                for batch in tracked(chain(self._head, self._reader), self._label):
                    self.rows += batch.num_rows
                    yield batch
            except Exception as exc:  # kept: delta-rs wraps it in a DeltaError
                self.error = exc
                raise

        return pa.RecordBatchReader.from_batches(self._reader.schema, batches())
