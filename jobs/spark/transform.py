"""Run a dataset's Arrow transform on Spark executors (``engine: spark`` in conf).

The input increment is spread over ``shuffle_partitions`` tasks (more for large inputs); each task
runs the same transform function as the single-node engine on its share and returns its rows and
rejects as Arrow IPC. The driver fetches them task by task, and when the dataset keeps the latest
row per key it picks the latest across tasks as well, so the result equals the single-node one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
from pyspark.sql import SparkSession

from jobs.derive import Derived, load_transform
from jobs.standardise import latest_per_key

PARTS = "part string, payload binary"
ROWS_PER_TASK = 500_000


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _read_ipc(payload: bytes) -> pa.Table:
    return pa.ipc.open_stream(payload).read_all()


def run_on_spark(
    spark: SparkSession,
    transform: str,
    inputs: dict[str, pa.Table],
    *,
    keys: list[str],
    latest_by: str | None,
    partitions: int,
) -> Derived:
    """The transform's output for ``inputs`` (one input), computed by Spark tasks."""
    ((ref, table),) = inputs.items()
    schema = table.schema

    def task(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        received = list(batches)
        if not received or not sum(b.num_rows for b in received):
            return
        # Spark hands batches back with its own nullability and time zone: restore the input's.
        share = pa.Table.from_batches(received).cast(schema)
        output = load_transform(transform)({ref: share})
        parts = [("rows", output.rows)]
        if output.rejects is not None:
            parts.append(("rejects", output.rejects))
        yield pa.RecordBatch.from_pydict(
            {
                "part": [name for name, _ in parts],
                "payload": [_ipc(t) for _, t in parts],
            }
        )

    # Tasks of at most ROWS_PER_TASK rows, fetched one at a time: the driver never asks for
    # more than one task's output at once (spark.driver.maxResultSize).
    tasks = max(partitions, -(-table.num_rows // ROWS_PER_TASK))
    frame = spark.createDataFrame(table).repartition(tasks)
    rows: list[pa.Table] = []
    rejects: list[pa.Table] = []
    for gathered in frame.mapInArrow(task, PARTS).toLocalIterator():
        (rows if gathered.part == "rows" else rejects).append(_read_ipc(bytes(gathered.payload)))
    if not rows:
        return load_transform(transform)({ref: table.slice(0, 0)})
    combined = pa.concat_tables(rows)
    if latest_by and keys:
        combined = latest_per_key(combined, keys, latest_by)
    return Derived(rows=combined, rejects=pa.concat_tables(rejects) if rejects else None)
