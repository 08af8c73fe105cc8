"""Lineage and update cycle of a dataset, derived from conf and the DAG/Asset graph it defines.

Every dataset is built by one pipeline DAG and published as the Asset ``delta://<zone>/<table>``;
a derived dataset's inputs are the Assets its DAG is scheduled on (``on_update``) or reads. So the
graph source -> bronze -> silver -> gold -> exchange subscription is read from conf alone, from the
dataset graph the DAG factory wires (``ProjectConfig.graph``), without importing Airflow.
"""

from __future__ import annotations

import itertools
import statistics
from datetime import UTC, datetime, timedelta

from croniter import croniter

from catalog.entry import CycleCode, Delivery, Lineage, SourceRef, UpdateCycle
from govlake.config.project import ProjectConfig

# Typical (median) gap between two runs -> the provincial catalogue's update cycle.
CYCLES: tuple[tuple[timedelta, CycleCode, str], ...] = (
    (timedelta(hours=1), "hourly", "每小时"),
    (timedelta(days=1), "daily", "每日"),
    (timedelta(days=7), "weekly", "每周"),
    (timedelta(days=31), "monthly", "每月"),
    (timedelta(days=92), "quarterly", "每季度"),
    (timedelta(days=366), "yearly", "每年"),
)
PRESETS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0",
           "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *"}  # fmt: skip
IRREGULAR: tuple[CycleCode, str] = ("irregular", "不定期")


def lineage(config: ProjectConfig, ref: str) -> Lineage:
    """Sources, inputs, ancestors, descendants and subscriptions of ``ref``."""
    upstream = config.graph.ancestors(ref)
    sources = []
    for bronze in (ref, *upstream):
        collect = config.datasets[bronze].collect
        if collect is not None:
            source = config.sources[collect.source]
            sources.append(
                SourceRef(
                    name=source.name,
                    stream=collect.stream,
                    kind=source.kind,
                    owner=source.owner,
                    bronze=bronze,
                )
            )
    return Lineage(
        producer_dag=config.graph.builder(ref),
        asset_uri=config.datasets[ref].asset_uri,
        sources=sources,
        inputs=list(config.datasets[ref].inputs),
        upstream=upstream,
        downstream=config.graph.descendants(ref),
        subscriptions=[
            Delivery(
                subscription=sub.name,
                node=sub.node,
                department=config.nodes[sub.node].department,
                format=sub.file.format if sub.file else "table",
                schedule=sub.schedule,
            )
            for sub in config.subscriptions.values()
            if sub.dataset == ref
        ],
    )


def update_cycle(config: ProjectConfig, ref: str) -> UpdateCycle:
    """The update cycle of the DAG that builds ``ref``.

    A DAG scheduled ``on_update`` runs when an input changes, so its cycle is the shortest cycle
    among the DAGs upstream of it.
    """
    graph = config.graph
    schedule = config.pipelines[graph.builder(ref)].schedule
    if schedule != "on_update":
        code, label = cycle_of(schedule)
        return UpdateCycle(code=code, label=label, schedule=schedule or "manual")
    schedules = [config.pipelines[graph.builder(a)].schedule for a in graph.ancestors(ref)]
    upstream = [cycle_of(s) for s in schedules if s != "on_update"]
    ranked = [c for c in upstream if c != IRREGULAR]
    order = [code for _, code, _ in CYCLES]
    code, label = min(ranked, key=lambda c: order.index(c[0])) if ranked else IRREGULAR
    return UpdateCycle(code=code, label=f"随上游更新（{label}）", schedule="on_update")


def cycle_of(schedule: str | None) -> tuple[CycleCode, str]:
    """The catalogue's cycle of a cron or @preset schedule, from the typical gap between runs."""
    if schedule is None or schedule == "@once":
        return IRREGULAR
    runs = croniter(PRESETS.get(schedule, schedule), datetime(2024, 1, 1, tzinfo=UTC))
    times = [runs.get_next(datetime) for _ in range(32)]
    typical = statistics.median(later - earlier for earlier, later in itertools.pairwise(times))
    for limit, code, label in CYCLES:
        if typical <= limit:
            return code, label
    return IRREGULAR
