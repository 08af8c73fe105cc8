"""Run a dataset's Arrow transform on Spark executors (``engine: spark`` in conf).

One input: the increment is cut into ``shuffle_partitions`` slices (more for large inputs), sent
to the executors as Arrow IPC, and each task runs the transform on its slice.

Several inputs (a fusion): every input is hash-partitioned on the dataset's ``keys`` into the
same buckets, so all rows of one key, from every input, meet in one task; each task runs the
transform on its bucket of each input. A transform that joins or aggregates by those keys gives
the single-node result this way.

Each task returns its rows and rejects as Arrow IPC. The driver fetches them task by task, and
when the dataset keeps the latest row per key it picks the latest across tasks as well (a
transform may normalise the key), so the result equals the single-node one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812

from govlake.errors import GovlakeError
from jobs.standardise import latest_per_key
from jobs.transform import Derived, load_transform

PARTS = "part string, payload binary"
SHARES = "bucket int, input string, payload binary"
BUCKET = "_govlake_bucket"
ROWS_PER_TASK = 500_000


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _read_ipc(payload: bytes) -> pa.Table:
    return pa.ipc.open_stream(payload).read_all()


def _parts(output: Derived) -> pa.Table:
    """One task's output as (part, payload) rows: ``rows`` and, if any, ``rejects``."""
    parts = [("rows", output.rows)]
    if output.rejects is not None:
        parts.append(("rejects", output.rejects))
    return pa.table(
        {
            "part": pa.array([name for name, _ in parts], pa.string()),
            "payload": pa.array([_ipc(t) for _, t in parts], pa.binary()),
        }
    )


def run_on_spark(
    spark: SparkSession,
    transform: str,
    inputs: dict[str, pa.Table],
    *,
    keys: list[str],
    latest_by: str | None,
    partitions: int,
) -> Derived:
    """The transform's output for ``inputs``, computed by Spark tasks."""
    # Tasks of at most ROWS_PER_TASK rows, fetched one at a time: the driver never asks for
    # more than one task's output at once (spark.driver.maxResultSize).
    tasks = max(partitions, -(-sum(t.num_rows for t in inputs.values()) // ROWS_PER_TASK))
    if len(inputs) == 1:
        frame = _spread(spark, transform, inputs, tasks)
    else:
        frame = _co_partitioned(spark, transform, inputs, keys, tasks)
    rows: list[pa.Table] = []
    rejects: list[pa.Table] = []
    for gathered in frame.toLocalIterator():
        (rows if gathered.part == "rows" else rejects).append(_read_ipc(bytes(gathered.payload)))
    if not rows:
        return load_transform(transform)({ref: t.slice(0, 0) for ref, t in inputs.items()})
    combined = pa.concat_tables(rows)
    if latest_by and keys:
        combined = latest_per_key(combined, keys, latest_by)
    return Derived(rows=combined, rejects=pa.concat_tables(rejects) if rejects else None)


def _spread(
    spark: SparkSession, transform: str, inputs: dict[str, pa.Table], tasks: int
) -> DataFrame:
    """One input, cut into ``tasks`` slices shipped as Arrow IPC; each task transforms one.

    Slices travel as opaque bytes: converting the rows to Spark's row format and back costs
    three times the transform itself (bench/silver_engines.py).
    """
    ((ref, table),) = inputs.items()
    schema = table.schema
    size = max(1, -(-table.num_rows // tasks))
    slices = [_ipc(table.slice(start, size)) for start in range(0, table.num_rows, size)]

    def task(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for payload in batch.column("payload").to_pylist():
                share = _read_ipc(payload).cast(schema)
                yield from _parts(load_transform(transform)({ref: share})).to_batches()

    shipped = spark.sparkContext.parallelize([(p,) for p in slices], max(1, len(slices)))
    return spark.createDataFrame(shipped, "payload binary").mapInArrow(task, PARTS)


def _co_partitioned(
    spark: SparkSession,
    transform: str,
    inputs: dict[str, pa.Table],
    keys: list[str],
    buckets: int,
) -> DataFrame:
    """Every input bucketed by ``keys``; each task transforms one bucket of every input."""
    schemas = {ref: table.schema for ref, table in inputs.items()}
    shares: DataFrame | None = None
    for ref, table in inputs.items():
        missing = [k for k in keys if k not in table.column_names]
        if missing:
            raise GovlakeError(
                f"engine: spark: input {ref} has no key column {', '.join(missing)}; "
                "the inputs of a Spark fusion are joined on the dataset's keys"
            )
        frame = spark.createDataFrame(table).withColumn(
            BUCKET, F.pmod(F.hash(*keys), F.lit(buckets))
        )
        packed = frame.groupBy(BUCKET).applyInArrow(_packer(ref), SHARES)
        shares = packed if shares is None else shares.unionByName(packed)
    assert shares is not None

    def task(bucket: pa.Table) -> pa.Table:
        tables = {ref: schema.empty_table() for ref, schema in schemas.items()}
        for ref, payload in zip(
            bucket.column("input").to_pylist(), bucket.column("payload").to_pylist(), strict=True
        ):
            # Spark hands rows back with its own nullability and time zone: restore the input's.
            tables[ref] = _read_ipc(payload).cast(schemas[ref])
        return _parts(load_transform(transform)(tables))

    return shares.groupBy("bucket").applyInArrow(task, PARTS)


def _packer(ref: str) -> Callable[[tuple[pa.Scalar, ...], pa.Table], pa.Table]:
    """A group function packing one bucket of input ``ref`` into one IPC payload row."""

    def pack(key: tuple[pa.Scalar, ...], share: pa.Table) -> pa.Table:
        return pa.table(
            {
                "bucket": pa.array([key[0].as_py()], pa.int32()),
                "input": pa.array([ref], pa.string()),
                "payload": pa.array([_ipc(share.drop_columns([BUCKET]))], pa.binary()),
            }
        )

    return pack
