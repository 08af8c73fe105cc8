"""``spark.read.format("govdelta")`` / ``df.write.format("govdelta")``: Delta tables via delta-rs.

The Delta JAR cannot be fetched where govlake is built, so Spark reaches Delta through Spark 4's
Python Data Source API. Reads: the driver lists the table's active files at the latest or a
given version (``versionAsOf``), prunes partitions on pushed-down equality filters, and each
executor reads its files with pyarrow. Writes: each executor writes Parquet files with pyarrow
and returns their metadata; the driver commits them all in one Delta transaction
(``create_write_transaction`` / ``create_table_with_add_actions``). A failed job commits nothing
and deletes its files.

Options: ``path`` (table URI), ``versionAsOf``, ``replaceWhere`` (overwrite only the partitions
``col = 'v' [AND ...]``), ``batchId`` (idempotent commit: a batch already committed commits
nothing), ``pipeline`` and ``runId`` (commit metadata).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, Transaction
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import CommitFailedError
from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions
from pyspark.sql.datasource import (
    DataSource,
    DataSourceArrowWriter,
    DataSourceReader,
    EqualTo,
    Filter,
    In,
    InputPartition,
    WriterCommitMessage,
)
from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema
from pyspark.sql.types import StructType

from govlake.errors import GovlakeError
from govlake.lakehouse import CHANGE_DATA_FEED, Commit

SHORT_NAME = "govdelta"
_EQUALS = re.compile(r"^\s*`?(\w+)`?\s*=\s*'((?:[^']|'')*)'\s*$")


@dataclass
class FilePartition(InputPartition):
    """Files read by one Spark task, with their partition values."""

    files: list[tuple[str, dict[str, str | None]]]


@dataclass
class WrittenFiles(WriterCommitMessage):
    """What one executor wrote: Delta add-action fields per file."""

    files: list[dict[str, Any]] = field(default_factory=list)


class GovDeltaDataSource(DataSource):
    """Delta tables through delta-rs (see the module docstring)."""

    @classmethod
    def name(cls) -> str:
        """The short name for ``format(...)``."""
        return SHORT_NAME

    def _uri(self) -> str:
        uri = self.options.get("path")
        if not uri:
            raise GovlakeError("govdelta: give the table location, e.g. .load('/lake/silver/x')")
        return str(uri)

    def schema(self) -> StructType:
        """The table's schema from its Delta log."""
        table = _open(self._uri(), _lower(self.options))
        return from_arrow_schema(pa.schema(table.schema().to_arrow()))

    def reader(self, schema: StructType) -> DataSourceReader:
        """A reader of the table's active files."""
        return GovDeltaReader(self._uri(), _lower(self.options), schema)

    def writer(self, schema: StructType, overwrite: bool) -> GovDeltaWriter:
        """A writer that commits once, on the driver."""
        return GovDeltaWriter(self._uri(), _lower(self.options), schema, overwrite)


def _lower(options: Any) -> dict[str, Any]:
    """Spark option names are case-insensitive: keep them in lower case."""
    return {str(k).lower(): v for k, v in dict(options).items()}


def _open(uri: str, options: Any) -> DeltaTable:
    if not DeltaTable.is_deltatable(uri):
        raise GovlakeError(f"govdelta: no Delta table at {uri}")
    version = options.get("versionasof")
    return DeltaTable(uri, version=int(version) if version is not None else None)


class GovDeltaReader(DataSourceReader):
    """Plans one task per data file; executors read them with pyarrow."""

    def __init__(self, uri: str, options: dict[str, Any], schema: StructType) -> None:
        """Remember what to read; planning happens in :meth:`partitions`."""
        self.uri = uri
        self.options = options
        self.schema = schema
        self.pruning: dict[str, set[str | None]] = {}

    def pushFilters(self, filters: list[Filter]) -> Iterator[Filter]:  # noqa: N802
        """Use equality filters on partition columns to skip files; Spark re-checks all."""
        partition_columns = set(_open(self.uri, self.options).metadata().partition_columns)
        for condition in filters:
            path: tuple[str, ...] = tuple(getattr(condition, "attribute", ()))
            column = path[0] if len(path) == 1 else None
            if column in partition_columns and isinstance(condition, EqualTo):
                self.pruning[column] = {_text(condition.value)}
            elif column in partition_columns and isinstance(condition, In):
                self.pruning[column] = {_text(v) for v in condition.value}
            yield condition

    def partitions(self) -> Sequence[FilePartition]:
        """One partition per active file that survives pruning."""
        table = _open(self.uri, self.options)
        actions = pa.table(table.get_add_actions(flatten=True)).to_pylist()
        partition_columns = table.metadata().partition_columns
        planned = []
        for action in actions:
            values = {c: _text(action.get(f"partition.{c}")) for c in partition_columns}
            if all(values[c] in allowed for c, allowed in self.pruning.items()):
                planned.append(FilePartition([(action["path"], values)]))
        return planned or [FilePartition([])]

    def read(self, partition: FilePartition) -> Iterator[pa.RecordBatch]:  # type: ignore[override]
        """Yield the files' rows as batches of exactly the declared schema."""
        target = to_arrow_schema(self.schema, timezone="UTC")
        filesystem, base = pafs.FileSystem.from_uri(self.uri)
        for path, values in partition.files:
            with filesystem.open_input_file(f"{base}/{path}") as handle:
                for batch in pq.ParquetFile(handle).iter_batches():
                    yield _conform(batch, values, target)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _conform(
    batch: pa.RecordBatch, partition_values: dict[str, str | None], target: pa.Schema
) -> pa.RecordBatch:
    columns = []
    for f in target:
        if f.name in partition_values:
            raw = pa.array([partition_values[f.name]] * batch.num_rows, pa.string())
            columns.append(raw.cast(f.type))
        else:
            columns.append(batch.column(f.name).cast(f.type))
    return pa.RecordBatch.from_arrays(columns, schema=target)


class GovDeltaWriter(DataSourceArrowWriter):
    """Executors write Parquet files; the driver commits them in one Delta transaction."""

    def __init__(
        self, uri: str, options: dict[str, Any], schema: StructType, overwrite: bool
    ) -> None:
        """Prepare a write of ``schema`` rows; ``overwrite`` replaces the table or partitions."""
        self.uri = uri
        self.options = options
        self.schema = schema
        self.overwrite = overwrite
        self.partition_by = _partition_columns(uri, options)
        self.job = uuid.uuid4().hex[:12]  # made on the driver, shared by every task

    def write(self, iterator: Iterator[pa.RecordBatch]) -> WrittenFiles:
        """Write this task's rows as Parquet, one file per partition value."""
        filesystem, base = pafs.FileSystem.from_uri(self.uri)
        target = to_arrow_schema(self.schema, timezone="UTC")
        data_schema = pa.schema([f for f in target if f.name not in self.partition_by])
        writers: dict[tuple[str | None, ...], tuple[pq.ParquetWriter, dict[str, Any]]] = {}
        try:
            for batch in iterator:
                table = pa.Table.from_batches([batch]).cast(target)
                for key, part in _split(table, self.partition_by):
                    if key not in writers:
                        writers[key] = self._open_file(filesystem, base, key, data_schema)
                    writer, meta = writers[key]
                    writer.write_table(part.select(data_schema.names))
                    meta["rows"] += part.num_rows
        except BaseException:
            # A failed task sends no message, so the driver's abort cannot see these files.
            for writer, _ in writers.values():
                writer.close()
            _delete(self.uri, [meta for _, meta in writers.values()])
            raise
        for writer, _ in writers.values():
            writer.close()
        files = []
        for _, meta in writers.values():
            info = filesystem.get_file_info(f"{base}/{meta['path']}")
            files.append({**meta, "size": info.size})
        return WrittenFiles(files)

    def _open_file(
        self, filesystem: pafs.FileSystem, base: str, key: tuple[str | None, ...], schema: pa.Schema
    ) -> tuple[pq.ParquetWriter, dict[str, Any]]:
        values = dict(zip(self.partition_by, key, strict=True))
        folder = "/".join(
            f"{c}={'__HIVE_DEFAULT_PARTITION__' if v is None else v}" for c, v in values.items()
        )
        name = f"part-{self.job}-{uuid.uuid4().hex}-govdelta.snappy.parquet"
        path = f"{folder}/{name}" if folder else name
        filesystem.create_dir(f"{base}/{folder}" if folder else base, recursive=True)
        writer = pq.ParquetWriter(
            filesystem.open_output_stream(f"{base}/{path}"), schema, compression="snappy"
        )
        return writer, {"path": path, "partition_values": values, "rows": 0}

    def commit(self, messages: list[WrittenFiles | None]) -> None:  # type: ignore[override]
        """Commit every file of every task in one Delta transaction."""
        files = [f for m in messages if m is not None for f in m.files]
        try:
            self._commit(files)
        except CommitFailedError as exc:
            _delete(self.uri, files)
            raise GovlakeError(
                f"govdelta: concurrent commit conflict on {self.uri}: {exc}; "
                "the job's files were removed, run it again"
            ) from None
        except Exception:
            _delete(self.uri, files)
            raise

    def _commit(self, files: list[dict[str, Any]]) -> None:
        now = int(time.time() * 1000)
        actions = [
            AddAction(
                f["path"],
                f["size"],
                f["partition_values"],
                now,
                True,
                json.dumps({"numRecords": f["rows"]}),
            )
            for f in files
        ]
        schema = DeltaSchema.from_arrow(to_arrow_schema(self.schema, timezone="UTC"))
        properties = self._commit_properties()
        exists = DeltaTable.is_deltatable(self.uri)
        if exists and (batch := self.options.get("batchid")):
            if DeltaTable(self.uri).transaction_version(f"govlake:{batch}") is not None:
                _delete(self.uri, files)
                return
        mode: Literal["overwrite", "append"] = "overwrite" if self.overwrite else "append"
        if not exists:
            create_table_with_add_actions(
                self.uri,
                schema,
                actions,
                mode,
                partition_by=self.partition_by or None,
                configuration={CHANGE_DATA_FEED: "true"},
                commit_properties=properties,
            )
            return
        filters = _partition_filters(self.options.get("replacewhere"), self.partition_by)
        DeltaTable(self.uri).create_write_transaction(
            cast(list[AddAction | RemoveAction], actions),
            mode,
            schema,
            partition_by=self.partition_by or None,
            partition_filters=filters,
            commit_properties=properties,
        )

    def _commit_properties(self) -> CommitProperties:
        commit = Commit(
            pipeline=str(self.options.get("pipeline", "spark")),
            run_id=str(self.options.get("runid", "")),
            batch_id=str(self.options.get("batchid", "")),
            source="spark",
        )
        transactions = [Transaction(commit.app_id, 1)] if commit.batch_id else None
        return CommitProperties(custom_metadata=commit.metadata(), app_transactions=transactions)

    def abort(self, messages: list[WrittenFiles | None]) -> None:  # type: ignore[override]
        """A task failed: remove every file this job wrote, commit nothing.

        Files are found by the job's name prefix as well as from the messages, since a task
        that finished after the failure sends no message. A task killed mid-write may still
        leave a file; it is not in the Delta log, and vacuum removes it.
        """
        _delete(self.uri, [f for m in messages if m is not None for f in m.files])
        filesystem, base = pafs.FileSystem.from_uri(self.uri)
        selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
        mine = [
            info.path
            for info in filesystem.get_file_info(selector)
            if info.base_name.startswith(f"part-{self.job}-")
        ]
        for path in mine:
            filesystem.delete_file(path)


def _partition_columns(uri: str, options: dict[str, Any]) -> list[str]:
    if DeltaTable.is_deltatable(uri):
        return list(DeltaTable(uri).metadata().partition_columns)
    given = options.get("partitionby")
    return [c.strip() for c in str(given).split(",") if c.strip()] if given else []


def _partition_filters(
    predicate: str | None, partition_by: list[str]
) -> list[tuple[str, str, str]] | None:
    if not predicate:
        return None
    filters = []
    for term in re.split(r"\s+AND\s+", predicate, flags=re.IGNORECASE):
        match = _EQUALS.match(term)
        if not match or match.group(1) not in partition_by:
            raise GovlakeError(
                f"govdelta: replaceWhere supports only partition_column = 'value' terms joined "
                f"by AND (partition columns: {partition_by}); got {term.strip()!r}"
            )
        filters.append((match.group(1), "=", match.group(2).replace("''", "'")))
    return filters


def _split(
    table: pa.Table, columns: list[str]
) -> Iterator[tuple[tuple[str | None, ...], pa.Table]]:
    if not columns:
        yield (), table
        return
    keys = table.select(columns).group_by(columns).aggregate([]).to_pylist()
    for key in keys:
        mask = None
        for column, value in key.items():
            test = (
                pa.compute.is_null(table[column])
                if value is None
                else pa.compute.equal(table[column], value)
            )
            mask = test if mask is None else pa.compute.and_(mask, test)
        yield tuple(_text(key[c]) for c in columns), table.filter(mask)


def _delete(uri: str, files: list[dict[str, Any]]) -> None:
    filesystem, base = pafs.FileSystem.from_uri(uri)
    for f in files:
        try:
            filesystem.delete_file(f"{base}/{f['path']}")
        except FileNotFoundError:
            pass
