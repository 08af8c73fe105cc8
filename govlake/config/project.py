"""The runtime model of ``conf/``: every declared entry, validated and cross-checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from govlake.config.catalog import CatalogConfig
from govlake.config.exchange import Node, PlatformConfig, Subscription
from govlake.config.graph import DatasetGraph
from govlake.config.models import (
    Dataset,
    Department,
    EngineConfig,
    LakehouseConfig,
    Organisation,
    Pipeline,
    Source,
)
from govlake.errors import GovlakeError, UnknownDatasetError


@dataclass(frozen=True)
class ProjectConfig:
    """Everything declared in ``conf/``, validated and cross-checked."""

    conf_dir: Path
    home: Path
    expectations_dir: Path
    lakehouse: LakehouseConfig
    engine: EngineConfig
    departments: dict[str, Department]
    sources: dict[str, Source]
    datasets: dict[str, Dataset]
    pipelines: dict[str, Pipeline]
    graph: DatasetGraph
    platform: PlatformConfig = PlatformConfig()
    nodes: dict[str, Node] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    catalog: CatalogConfig = CatalogConfig()
    organisations: dict[str, Organisation] = field(default_factory=dict)

    def dataset(self, ref: str) -> Dataset:
        """The dataset ``zone.name``, or an error listing the declared ones."""
        return _declared(self.datasets, ref, "dataset", UnknownDatasetError)

    def subscription(self, name: str) -> Subscription:
        """The subscription called ``name``, or an error listing the declared ones."""
        return _declared(self.subscriptions, name, "subscription")

    def node(self, name: str) -> Node:
        """The exchange node called ``name``, or an error listing the declared ones."""
        return _declared(self.nodes, name, "exchange node")

    def pipeline(self, name: str) -> Pipeline:
        """The pipeline called ``name``, or an error listing the declared ones."""
        return _declared(self.pipelines, name, "pipeline")

    def pipeline_order(self) -> list[Pipeline]:
        """Pipelines sorted so every producer comes before its consumers (raises on a cycle)."""
        return [self.pipelines[name] for name in self.graph.pipeline_order()]


EntryT = TypeVar("EntryT")


def _declared(
    entries: dict[str, EntryT], name: str, kind: str, error: type[GovlakeError] = GovlakeError
) -> EntryT:
    """``entries[name]``, or ``error`` naming what is declared."""
    try:
        return entries[name]
    except KeyError:
        known = ", ".join(sorted(entries)) or "none"
        raise error(f"unknown {kind} {name!r}; declared: {known}") from None


def suite_file(expectations_dir: Path, ref: str) -> Path:
    """The Great Expectations suite of dataset ``ref``: ``<zone>__<table>.json``."""
    return expectations_dir / f"{ref.replace('.', '__')}.json"
