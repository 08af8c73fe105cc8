"""Generate catalog entries from pipeline metadata: conf, the Delta log and the quality results.

Nothing here is typed by hand: the schema comes from the table's Delta log, ownership and
grading from the dataset's conf, the update cycle and lineage from the DAG graph, quality from
the latest validation run, freshness as the quality gate measures it (jobs.quality.freshness).
Conf adds only descriptions (of the dataset and its columns) and how the dataset is shared.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow.compute as pc
from deltalake import Schema

from catalog.entry import Column, Definition, Sharing, State
from catalog.lineage import lineage, update_cycle
from govlake.config.catalog import (
    DEFAULT_CONDITIONS,
    OPEN_BY_CLASSIFICATION,
    rule_for,
    sharing_of,
)
from govlake.config.project import ProjectConfig
from govlake.lakehouse import Lakehouse
from jobs.quality import freshness
from jobs.quality.results import latest

# Columns the platform adds to every table, and what they mean.
SYSTEM_COLUMNS = {
    "_batch_id": "采集批次号（平台生成，同一批次只入湖一次）",
    "_source": "数据来源（源系统与数据流）",
    "_ingested_at": "入湖时间（UTC）",
    "_file": "来源文件名",
    "_url": "来源网页地址",
}


@dataclass(frozen=True)
class Generated:
    """A dataset's generated entry, and what generation noticed about its conf."""

    definition: Definition
    state: State
    warnings: list[str] = field(default_factory=list)


def generate(
    config: ProjectConfig, lake: Lakehouse, refs: Iterable[str] | None = None
) -> tuple[list[Generated], list[str]]:
    """Entries of the built datasets among ``refs`` (default: all), and the refs not built yet."""
    wanted = list(refs) if refs is not None else sorted(config.datasets)
    for ref in wanted:
        config.dataset(ref)
    built = [ref for ref in wanted if lake.exists(ref)]
    scores = _latest_scores(lake)
    now = datetime.now(UTC)
    entries = []
    for ref in built:
        definition, warnings = build_definition(config, ref, lake.table(ref).schema())
        entries.append(Generated(definition, _state(config, lake, ref, scores, now), warnings))
    return entries, [ref for ref in wanted if ref not in built]


def build_definition(
    config: ProjectConfig, ref: str, schema: Schema
) -> tuple[Definition, list[str]]:
    """The definition of ``ref`` with the columns of its Delta schema; warnings about conf."""
    dataset = config.dataset(ref)
    facts = dataset.catalog
    rules = config.catalog.sensitive_columns
    columns = []
    for delta_field in schema.fields:
        name = delta_field.name
        rule = rule_for(name, rules)
        columns.append(
            Column(
                name=name,
                type=_type_name(json.loads(delta_field.to_json())["type"]),
                nullable=delta_field.nullable,
                comment=facts.columns.get(name)
                or config.catalog.columns.get(name)
                or SYSTEM_COLUMNS.get(name, ""),
                sensitive=rule.label if rule else None,
                system=name in SYSTEM_COLUMNS,
            )
        )
    names = {c.name for c in columns}
    warnings = [
        f"{ref}: catalog.columns describes {name!r}, which the table does not have"
        for name in facts.columns
        if name not in names
    ]
    sharing = sharing_of(dataset)
    category = config.catalog.categories[facts.category]
    definition = Definition(
        dataset=ref,
        zone=dataset.zone,
        title=dataset.title,
        description=dataset.description,
        owner=dataset.owner,
        owner_name=config.departments[dataset.owner].name,
        category=category.code,
        category_name=category.name,
        classification=dataset.classification,
        sensitive_columns=[c.name for c in columns if c.sensitive],
        sharing=Sharing(
            type=sharing,
            conditions=(facts.sharing_conditions or DEFAULT_CONDITIONS)
            if sharing == "conditional"
            else None,
            open=facts.open or OPEN_BY_CLASSIFICATION[dataset.classification],
        ),
        keys=list(dataset.keys),
        update_cycle=update_cycle(config, ref),
        columns=columns,
    )
    return definition, warnings


def _state(
    config: ProjectConfig, lake: Lakehouse, ref: str, scores: dict[str, float], now: datetime
) -> State:
    info = lake.describe(ref)
    limit = config.dataset(ref).quality.freshness_hours
    seen = freshness.last_seen(lake, config.expectations_dir, ref, info.last_commit)
    fresh = seen >= freshness.cutoff(limit, now)
    return State(
        rows=info.rows,
        size_bytes=info.size_bytes,
        files=info.files,
        delta_version=info.version,
        last_updated=info.last_commit,
        quality_score=scores.get(ref),
        freshness="fresh" if fresh else "stale",
        freshness_limit_hours=limit,
        lineage=lineage(config, ref),
    )


def _latest_scores(lake: Lakehouse) -> dict[str, float]:
    rows = latest(lake)
    if rows.num_rows == 0:
        return {}
    per_dataset = rows.group_by("dataset").aggregate([("score", "max")])
    return dict(
        zip(
            per_dataset.column("dataset").to_pylist(),
            pc.round(per_dataset.column("score_max"), 2).to_pylist(),
            strict=True,
        )
    )


def _type_name(delta_type: object) -> str:
    """``long``, ``decimal(18,2)``...; nested types as compact JSON."""
    if isinstance(delta_type, str):
        return delta_type
    return json.dumps(delta_type, separators=(",", ":"), ensure_ascii=False)
