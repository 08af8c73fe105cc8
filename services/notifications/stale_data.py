"""Freshness alerts: a dataset whose newest record is older than its ``freshness_hours``.

Freshness is the quality gate's own (:mod:`jobs.quality.freshness`): the newest value of the
column the dataset's suite checks, else its last commit. A table past its limit raises one
``dataset_freshness`` alert, to whoever may build the dataset and whoever reviews it, for the
table's version: new data (a new version) that is fresh resolves it, and new data that is
stale already is a new alert. The check runs with the overdue applications'
(``govlake alerts check`` and the ``notify_worker`` DAG) and needs ``send_messages``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from govlake.runtime import Runtime
from jobs.quality import freshness
from services.identity import trail
from services.identity.policy import acting, require
from services.identity.settings import Clock, utc_now
from services.notifications.alerts import open_objects, raise_once, resolve
from services.notifications.outbox import Notice

KIND = "dataset_freshness"


@dataclass(frozen=True)
class Stale:
    """A dataset past its freshness: its table's version, its newest record, the limit passed."""

    dataset: str
    version: int
    newest: datetime
    deadline: datetime


def check(rt: Runtime, *, clock: Clock = utc_now) -> list[Stale]:
    """Raise one alert per stale table version, resolve those fresh again; those raised now."""
    actor = acting(rt)
    require(rt, actor, "send_messages", f"organisation:{rt.config.catalog.platform_department}")
    now = clock()
    stale = [found for found in _tables(rt) if now >= found.deadline]
    stale_objects = {_object(found) for found in stale}
    with rt.platform_db.begin() as conn:
        for fresh in set(open_objects(conn, KIND)) - stale_objects:
            resolve(conn, fresh, now)
    raised = []
    for found in stale:
        target = f"dataset:{found.dataset}"
        context = {"dataset": found.dataset, "title": rt.config.dataset(found.dataset).title,
                   "newest": f"{found.newest:%Y-%m-%d %H:%M}",
                   "hours": rt.config.dataset(found.dataset).quality.freshness_hours,
                   "version": found.version}  # fmt: skip
        notice = Notice("dataset.stale", _object(found),
                        [f"may:build@{target}", f"may:review@{target}"], context)  # fmt: skip
        if raise_once(rt, kind=KIND, stage="stale", deadline=found.deadline, notice=notice,
                      by=actor.username, clock=lambda: now):  # fmt: skip
            raised.append(found)
            trail.write(rt, actor, "dataset.stale", target, "success",
                        {"version": found.version, "newest": found.newest.isoformat()})  # fmt: skip
    return raised


def _tables(rt: Runtime) -> list[Stale]:
    """Each dataset's table that exists: its version, newest record and freshness deadline."""
    lake = rt.lake
    found = []
    for ref in (r for r in lake.existing(rt.config.datasets) if r in rt.config.datasets):
        hours = rt.config.dataset(ref).quality.freshness_hours
        info = lake.describe(ref)
        newest = freshness.last_seen(lake, rt.config.expectations_dir, ref, info.last_commit)
        found.append(Stale(ref, info.version, newest, newest + timedelta(hours=hours)))
    return found


def _object(found: Stale) -> str:
    return f"dataset:{found.dataset}@v{found.version}"
