"""Collect a database table into bronze, incrementally by its cursor column, exactly once.

The batch id is the cursor window read (``column > lower <= upper``), or for a stream without
a cursor the table version the whole read was taken after: two runs reading the same rows
commit the same batch, whatever their run ids, and Delta lets it in only once.
"""

from __future__ import annotations

from datetime import date
from functools import partial

from connectors.database import DatabaseReader
from govlake.config.models import DatabaseSource, DatabaseStream
from govlake.connections import database_url
from govlake.lakehouse import WriteResult
from jobs.collect import cursor
from jobs.collect.bronze import commit_rows, no_rows
from jobs.collect.drift import check_drift
from jobs.collect.run import CollectRun


def collect_database(run: CollectRun[DatabaseSource, DatabaseStream]) -> list[WriteResult]:
    """Read the stream's table into the bronze dataset.

    With a cursor column, only rows above the committed cursor and up to the source's current
    maximum are read; the new maximum is committed in the same Delta commit as the rows.
    """
    source, stream = run.source, run.stream
    with DatabaseReader(database_url(source.conn_id, source.default_url), name=source.name) as db:
        table = db.table(stream.table)
        where = run.at(f"table {stream.table!r} -> {run.ref}")
        # Checked before the cursor query too, so a changed column is reported on a quiet day.
        check_drift(run.lake.schema(run.ref), db.schema(table), policy=source.schema_drift,
                    where=where.where)  # fmt: skip
        lower = upper = None
        batch_id = f"{run.ref}@read-after:v{run.lake.version(run.ref)}"
        if stream.cursor:
            lower = cursor.decode(run.lake.last_cursor(run.ref), stream.cursor)
            upper = db.max_value(table, stream.cursor, lower)
            if upper is None:
                return no_rows(run)
            batch_id = f"{run.ref}@{stream.cursor}:{_text(lower)}..{_text(upper)}"
        rows = partial(
            db.read_batches,
            table,
            cursor=stream.cursor,
            lower=lower,
            upper=upper,
            batch_size=stream.batch_size,
        )
        return commit_rows(
            where,
            rows,
            batch_id=batch_id,
            cursor=cursor.encode(stream.cursor, upper) if stream.cursor else None,
        )


def _text(value: object) -> str:
    """A cursor bound as the batch id shows it (``start`` before the first run)."""
    if value is None:
        return "start"
    return value.isoformat() if isinstance(value, date) else str(value)
