"""What one delivery sends: a subscription's rows between two versions of its dataset, streamed.

A batch covers the dataset's versions ``(from_version, to_version]``: the whole table at
``to_version`` for a full subscription (``from_version`` is ``None``), or the rows inserted or
updated after ``from_version`` for an incremental one (Delta change data feed). Rows are read as
Arrow record batches and filtered and projected by DuckDB as they stream, so a delivery never
holds the dataset in memory. The delivery's terms narrow both further: only the columns they
give, only the rows their filter lets through, and their sensitive columns masked batch by batch
(:mod:`jobs.masking`, the masking of every share path).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from govlake import row_filter
from govlake.config.exchange import Subscription
from govlake.errors import GovlakeError
from govlake.lakehouse import LINEAGE_COLUMNS, Lakehouse
from jobs.exchange.terms import DeliveryTerms
from jobs.masking import mask_batch, mask_key
from jobs.query import lock, sandbox

BATCH_ROWS = 65_536


@dataclass(frozen=True)
class Batch:
    """The versions a delivery covers; its id is the same whenever the same rows are sent."""

    subscription: str
    from_version: int | None
    to_version: int

    @property
    def batch_id(self) -> str:
        """``<subscription>@<from>-<to>`` (``full`` for a whole-table batch)."""
        start = "full" if self.from_version is None else str(self.from_version)
        return f"{self.subscription}@{start}-{self.to_version}"

    @classmethod
    def parse(cls, batch_id: str) -> Batch:
        """The batch named by ``batch_id``."""
        name, _, versions = batch_id.partition("@")
        start, _, end = versions.partition("-")
        if not name or not end.isdigit() or not (start == "full" or start.isdigit()):
            raise GovlakeError(f"not a batch id: {batch_id!r} (expected name@from-to)")
        return cls(name, None if start == "full" else int(start), int(end))


def rows(
    lake: Lakehouse, subscription: Subscription, batch: Batch, terms: DeliveryTerms
) -> pa.RecordBatchReader:
    """The batch's rows as a stream, narrowed by ``terms`` and the subscription.

    The terms' columns (else the subscription's), both filters applied, the terms' masks.
    """
    table = lake.table(subscription.dataset, batch.to_version)
    schema = pa.schema(table.schema().to_arrow())
    schema = pa.schema([f for f in schema if f.name not in LINEAGE_COLUMNS])
    if batch.from_version is None:
        source = (
            lake.dataset(subscription.dataset, batch.to_version)
            .scanner(columns=schema.names, batch_size=BATCH_ROWS)
            .to_reader()
        )
    else:
        changes = table.load_cdf(
            starting_version=batch.from_version + 1, ending_version=batch.to_version
        )
        source = pa.RecordBatchReader.from_batches(
            schema, _upserts(pa.RecordBatchReader.from_stream(changes), schema)
        )
    columns = list(terms.columns or subscription.columns or schema.names)
    unknown = [c for c in columns if c not in schema.names]
    if unknown:
        raise GovlakeError(
            f"subscription {subscription.name}: {subscription.dataset} has no column "
            f"{', '.join(unknown)}; it has {', '.join(schema.names)}"
        )
    query = f"SELECT {', '.join(_quoted(c) for c in columns)} FROM source"
    conditions = _conditions(subscription, terms, schema.names)
    if conditions:
        query += " WHERE " + " AND ".join(f"({c})" for c in conditions)
    connection = sandbox()
    connection.register("source", source)
    lock(connection)
    try:
        relation = connection.sql(query)
    except duckdb.Error as exc:
        raise GovlakeError(
            f"subscription {subscription.name}: filter {subscription.filter!r} fails: {exc}"
        ) from None
    wanted = pa.schema([schema.field(c) for c in columns])
    typed = _typed(relation.to_arrow_reader(BATCH_ROWS), wanted, connection)
    if not terms.masks:
        return pa.RecordBatchReader.from_batches(wanted, typed)
    key = mask_key()
    empty = pa.RecordBatch.from_pylist([], schema=wanted)
    masked = mask_batch(empty, terms.masks, token_key=key).schema  # a null mask makes it nullable
    return pa.RecordBatchReader.from_batches(
        masked, (mask_batch(b, terms.masks, token_key=key) for b in typed)
    )


def _conditions(subscription: Subscription, terms: DeliveryTerms, columns: list[str]) -> list[str]:
    """The terms' filter and the subscription's, as DuckDB SQL rendered from their parse."""
    filters = [(terms.row_filter, f"the grant of subscription {subscription.name}"),
               (subscription.filter, f"subscription {subscription.name}")]  # fmt: skip
    try:
        return [row_filter.render(text, columns, where=where) for text, where in filters if text]
    except ValueError as exc:
        raise GovlakeError(str(exc)) from None


def _upserts(changes: pa.RecordBatchReader, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """Inserted rows and updated rows' new values, in the table's types (not deletes)."""
    for batch in changes:
        kind = pc.cast(batch.column("_change_type"), pa.string())
        wanted = pc.is_in(kind, pa.array(["insert", "update_postimage"]))
        typed = pa.RecordBatch.from_arrays(  # delta-rs gives string_view: cast first
            [batch.column(f.name).cast(f.type) for f in schema], schema=schema
        )
        yield typed.filter(wanted)


def _typed(
    reader: pa.RecordBatchReader, schema: pa.Schema, connection: duckdb.DuckDBPyConnection
) -> Iterator[pa.RecordBatch]:
    """DuckDB's batches in the dataset's own types (it widens some), closing DuckDB at the end."""
    try:
        for batch in reader:
            yield pa.RecordBatch.from_arrays(
                [batch.column(i).cast(f.type) for i, f in enumerate(schema)], schema=schema
            )
    finally:
        connection.close()


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'
