"""The registry's silver step on Spark: the same Arrow standardisation, run on the executors.

Codes are compacted first so that every version of an enterprise lands in the same partition;
each partition then runs :func:`jobs.enterprise_registry.standardise` (vectorised Arrow rules,
latest-wins within the key), and the rows and the rejects are written through ``govdelta``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import from_arrow_schema

from govlake.lakehouse import LINEAGE_COLUMNS
from jobs.enterprise_registry import SILVER_SCHEMA, standardise
from jobs.standardise import normalise_uscc

BRONZE = "bronze.enterprise_registry"
OUTPUT = pa.schema(
    [
        *(f.with_nullable(True) for f in SILVER_SCHEMA),
        pa.field("_raw", pa.string()),
        pa.field("_reason", pa.string()),
    ]
)


def _with_code(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        table = pa.Table.from_batches([batch])
        yield from table.append_column("_code", normalise_uscc(table.column("uscc"))).to_batches()


def _standardise(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    frames = [pa.Table.from_batches([b]) for b in batches]
    if not frames:
        return
    raw = pa.concat_tables(frames).drop_columns(["_code"])
    raw = raw.drop_columns([c for c in LINEAGE_COLUMNS if c in raw.column_names])
    result = standardise({BRONZE: raw})
    rows = result.rows.append_column(
        "_raw", pa.nulls(result.rows.num_rows, pa.string())
    ).append_column("_reason", pa.nulls(result.rows.num_rows, pa.string()))
    yield from rows.cast(OUTPUT).to_batches()
    if result.rejects is not None and result.rejects.num_rows:
        rejected = result.rejects
        as_json = pa.array([str(r) for r in rejected.drop_columns(["_reason"]).to_pylist()])
        empty = {f.name: pa.nulls(rejected.num_rows, f.type) for f in SILVER_SCHEMA}
        empty["uscc"] = rejected.column("uscc").cast(pa.string())
        rejects = pa.table({**empty, "_raw": as_json, "_reason": rejected.column("_reason")})
        yield from rejects.cast(OUTPUT).to_batches()


def standardise_on_spark(spark: SparkSession, bronze_uri: str) -> DataFrame:
    """Silver rows (``_reason`` null) and rejects (``_reason`` set) from the bronze table."""
    bronze = spark.read.format("govdelta").load(bronze_uri)
    coded = bronze.mapInArrow(_with_code, f"{bronze.schema.simpleString()[7:-1]}, _code string")
    return coded.repartition("_code").mapInArrow(_standardise, from_arrow_schema(OUTPUT))
