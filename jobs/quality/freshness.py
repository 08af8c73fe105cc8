"""One definition of freshness, shared by the quality gate and the catalog.

A table is fresh when its newest record is no older than its dataset's ``freshness_hours``.
The newest record is the largest value of the column the dataset's suite checks for freshness
(an ``expect_column_max_to_be_between`` whose ``min_value`` is the ``fresh_since`` parameter),
read from the Delta log's file statistics without scanning data. A dataset whose suite checks
no such column is as fresh as its last commit. Times without a zone are UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from govlake.config.project import suite_file
from govlake.lakehouse import Lakehouse

PARAMETER = "fresh_since"


def cutoff(hours: int, now: datetime | None = None) -> datetime:
    """The oldest time a fresh table's newest record may have."""
    return (now or datetime.now(UTC)) - timedelta(hours=hours)


def freshness_column(expectations_dir: Path, ref: str) -> str | None:
    """The column whose maximum the suite of ``ref`` checks against ``fresh_since``."""
    from jobs.quality.suites import load_suite

    path = suite_file(expectations_dir, ref)
    if not path.is_file():
        return None
    for expectation in load_suite(path)["expectations"]:
        kwargs: dict[str, Any] = expectation.get("kwargs", {})
        if expectation.get("type") == "expect_column_max_to_be_between" and kwargs.get(
            "min_value"
        ) == {"$PARAMETER": PARAMETER}:
            return str(kwargs["column"])
    return None


def newest(lake: Lakehouse, ref: str, column: str) -> datetime | None:
    """The largest value of ``column`` in the table's current files, from the log's stats."""
    actions = pa.table(lake.table(ref).get_add_actions(flatten=True))
    name = f"max.{column}"
    if name not in actions.column_names:
        return None
    values = [v for v in actions.column(name).to_pylist() if isinstance(v, datetime)]
    if not values:
        return None
    latest = max(v if v.tzinfo else v.replace(tzinfo=UTC) for v in values)
    return latest.astimezone(UTC)


def last_seen(lake: Lakehouse, expectations_dir: Path, ref: str, last_commit: datetime) -> datetime:
    """When the table's newest record is from: its freshness column's maximum, else the commit."""
    column = freshness_column(expectations_dir, ref)
    found = newest(lake, ref, column) if column else None
    return found or last_commit
