"""Collect a database table into bronze, incrementally by its cursor column, exactly once."""

from __future__ import annotations

from connectors.database import DatabaseReader
from govlake.config.models import DatabaseSource, Dataset, declared
from govlake.connections import database_url
from govlake.lakehouse import Commit, Lakehouse, WriteResult
from jobs.collect import cursor
from jobs.collect.drift import check_drift
from jobs.quality.contracts import checked


def collect_database(
    lake: Lakehouse,
    dataset: Dataset,
    source: DatabaseSource,
    stream_name: str,
    *,
    pipeline: str,
    run_id: str,
) -> list[WriteResult]:
    """Read the stream's table into the bronze dataset.

    With a cursor column, only rows above the committed cursor and up to the source's current
    maximum are read; the new maximum is committed in the same Delta commit as the rows.
    """
    ref = dataset.ref
    stream = declared(source.stream(stream_name), source.name, stream_name)
    url = database_url(source.conn_id, source.default_url)
    with DatabaseReader(url, name=source.name) as db:
        table = db.table(stream.table)
        evolve = check_drift(
            lake.schema(ref),
            db.schema(table),
            policy=source.schema_drift,
            where=f"source {source.name} table {stream.table!r} -> {ref}",
        )
        lower = upper = None
        if stream.cursor:
            lower = cursor.decode(lake.last_cursor(ref), stream.cursor)
            upper = db.max_value(table, stream.cursor, lower)
            if upper is None:
                return [WriteResult(ref, 0, lake.version(ref), "no_rows")]
        rows = db.read_batches(
            table, cursor=stream.cursor, lower=lower, upper=upper, batch_size=stream.batch_size
        )
        reader = checked(rows, dataset.contract, where=ref) if dataset.contract else rows
        commit = Commit(
            pipeline=pipeline,
            run_id=run_id,
            batch_id=f"{ref}@{run_id}",
            source=f"{source.name}.{stream.name}",
            cursor=cursor.encode(stream.cursor, upper) if stream.cursor else None,
        )
        return [
            lake.write(
                ref,
                reader,
                commit,
                mode=dataset.write,
                keys=dataset.keys,
                partition_by=dataset.partition_by,
                evolve_schema=evolve,
            )
        ]
