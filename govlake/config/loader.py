"""Load ``conf/`` into a validated :class:`ProjectConfig`, or fail listing every problem.

Problems are reported as ``file:line: field.path: message``: the YAML is read first so each
value keeps its line (:mod:`govlake.config.yaml_source`), then validated per file with pydantic,
then checked across files (owners, sources, inputs, pipelines). Strings may use ``${VAR}`` or
``${VAR:-default}``; ``GOVLAKE_HOME`` defaults to ``.govlake`` beside the conf folder.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from govlake.config.catalog import CatalogConfig
from govlake.config.exchange import (
    FileEndpoint,
    Node,
    PlatformConfig,
    Subscription,
)
from govlake.config.graph import DatasetGraph
from govlake.config.issues import ConfError, ConfIssue
from govlake.config.models import (
    ApiStream,
    DatabaseStream,
    Dataset,
    Department,
    EngineConfig,
    LakehouseConfig,
    Pipeline,
    Source,
)
from govlake.config.yaml_source import Doc, FieldPath, read_yaml
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


def default_conf_dir() -> Path:
    """``$GOVLAKE_CONF``, else ``./conf``."""
    return Path(os.environ.get("GOVLAKE_CONF", "conf")).resolve()


def load_config(conf_dir: str | Path | None = None) -> ProjectConfig:
    """Load and validate the configuration folder; raise :class:`ConfError` on any problem."""
    conf = Path(conf_dir).resolve() if conf_dir else default_conf_dir()
    if not conf.is_dir():
        raise ConfError([ConfIssue(conf, None, "", "configuration folder not found")])
    home = Path(os.environ.get("GOVLAKE_HOME") or conf.parent / ".govlake").resolve()
    env = {**os.environ, "GOVLAKE_HOME": str(home)}
    loading = _Loading(conf, env)
    project = loading.run(home)
    if loading.issues:
        raise ConfError(loading.issues)
    assert project is not None
    return project


class _Loading:
    """One pass over a conf folder, collecting issues instead of stopping at the first."""

    def __init__(self, conf: Path, env: dict[str, str]) -> None:
        self.conf = conf
        self.env = env
        self.issues: list[ConfIssue] = []
        self.invalid: set[str] = set()  # names declared in entries that failed validation
        self.where: dict[tuple[str, str], tuple[Doc, FieldPath]] = {}

    def issue(self, doc: Doc, path: FieldPath, message: str) -> None:
        self.issues.append(doc.issue(path, message))

    def _parse(self, file: Path) -> Doc | None:
        return read_yaml(file, self.env, self.issues)

    def run(self, home: Path) -> ProjectConfig | None:
        lakehouse = self._single("lakehouse.yaml", LakehouseConfig, required=True)
        engine = self._single("engine.yaml", EngineConfig, required=False) or EngineConfig()
        departments = self._listed("departments.yaml", "departments", Department, "code")
        sources = self._per_file("sources", Source, "name")
        datasets = self._listed_dir("datasets", "datasets", Dataset, "ref")
        pipelines = self._per_file("pipelines", Pipeline, "name")
        platform = self._single("platform.yaml", PlatformConfig, required=False)
        nodes = self._optional_list("exchange/nodes.yaml", "nodes", Node, "name")
        subscriptions = self._optional_list(
            "exchange/subscriptions.yaml", "subscriptions", Subscription, "name"
        )
        catalog = self._single("catalog.yaml", CatalogConfig, required=False)
        if catalog is None and not (self.conf / "catalog.yaml").exists():
            catalog = CatalogConfig()
        self._unexpected_files()
        graph = DatasetGraph.of(datasets, pipelines)
        self._cross_check(departments, sources, datasets, pipelines, graph)
        self._check_exchange(departments, datasets, nodes, subscriptions)
        if catalog is not None:  # else its own errors are reported
            self._check_catalog(catalog, departments, datasets)
        if self.issues or lakehouse is None:
            return None
        expectations = os.environ.get("GOVLAKE_EXPECTATIONS") or self.conf.parent / "expectations"
        return ProjectConfig(
            conf_dir=self.conf,
            home=home,
            expectations_dir=Path(expectations).resolve(),
            lakehouse=lakehouse,
            engine=engine,
            departments=departments,
            sources=sources,
            datasets=datasets,
            pipelines=pipelines,
            graph=graph,
            platform=platform or PlatformConfig(),
            nodes=nodes,
            subscriptions=subscriptions,
            catalog=catalog or CatalogConfig(),
        )

    def _validate(self, doc: Doc, data: Any, path: FieldPath, model: Any) -> Any:
        try:
            return TypeAdapter(model).validate_python(data)
        except ValidationError as exc:
            tag = data.get("kind") if isinstance(data, dict) else None
            for error in exc.errors():
                loc = error["loc"]
                if tag is not None and loc and loc[0] == tag and tag not in data:
                    loc = loc[1:]  # a tagged union names the variant first
                self.issue(doc, (*path, *loc), error["msg"])
            return None

    def _single(self, name: str, model: Any, *, required: bool) -> Any:
        file = self.conf / name
        if not file.exists():
            if required:
                self.issues.append(ConfIssue(file, None, "", "required file is missing"))
            return None
        doc = self._parse(file)
        return self._validate(doc, doc.data, (), model) if doc else None

    def _items(self, doc: Doc, key: str) -> Iterator[tuple[FieldPath, Any]]:
        if not isinstance(doc.data, dict) or not isinstance(doc.data.get(key), list):
            self.issue(doc, (key,), f"expected a mapping with a '{key}' list")
            return
        for extra in set(doc.data) - {key}:
            self.issue(doc, (extra,), "unexpected field")
        for i, item in enumerate(doc.data[key]):
            yield (key, i), item

    def _register(
        self, kind: str, doc: Doc, path: FieldPath, obj: Any, id_attr: str, into: dict[str, Any]
    ) -> None:
        ident = getattr(obj, id_attr)
        if ident in into:
            first_doc, _ = self.where[(kind, ident)]
            self.issue(doc, path, f"duplicate {kind} {ident!r} (first in {first_doc.file.name})")
            return
        into[ident] = obj
        self.where[(kind, ident)] = (doc, path)

    def _listed(self, name: str, key: str, model: Any, id_attr: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        file = self.conf / name
        if not file.exists():
            self.issues.append(ConfIssue(file, None, "", "required file is missing"))
            return found
        doc = self._parse(file)
        if doc:
            self._collect(doc, key, model, id_attr, found)
        return found

    def _collect(self, doc: Doc, key: str, model: Any, id_attr: str, found: dict[str, Any]) -> None:
        for path, item in self._items(doc, key):
            obj = self._validate(doc, item, path, model)
            if obj is not None:
                self._register(key, doc, path, obj, id_attr, found)
            elif isinstance(item, dict):
                self.invalid.add(f"{item.get('zone')}.{item.get('name')}")

    def _optional_list(self, name: str, key: str, model: Any, id_attr: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        file = self.conf / name
        doc = self._parse(file) if file.exists() else None
        if doc:
            self._collect(doc, key, model, id_attr, found)
        return found

    def _listed_dir(self, folder: str, key: str, model: Any, id_attr: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for file in sorted((self.conf / folder).glob("*.yaml")):
            doc = self._parse(file)
            if doc:
                self._collect(doc, key, model, id_attr, found)
        return found

    def _per_file(self, folder: str, model: Any, id_attr: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for file in sorted((self.conf / folder).glob("*.yaml")):
            doc = self._parse(file)
            obj = self._validate(doc, doc.data, (), model) if doc else None
            if doc and obj is not None:
                self._register(folder, doc, (), obj, id_attr, found)
            elif doc and isinstance(doc.data, dict):
                self.invalid.add(str(doc.data.get("name")))
        return found

    def _unexpected_files(self) -> None:
        known = {
            "lakehouse.yaml",
            "engine.yaml",
            "departments.yaml",
            "platform.yaml",
            "catalog.yaml",
        }
        for file in sorted(self.conf.glob("*.y*ml")):
            if file.name not in known:
                self.issues.append(ConfIssue(file, None, "", "unexpected file in conf/"))

    # -- cross-file checks ------------------------------------------------------------------

    def _at(self, kind: str, ident: str, *field_path: str | int) -> tuple[Doc, FieldPath]:
        doc, path = self.where[(kind, ident)]
        return doc, (*path, *field_path)

    def _cross_check(
        self,
        departments: dict[str, Department],
        sources: dict[str, Source],
        datasets: dict[str, Dataset],
        pipelines: dict[str, Pipeline],
        graph: DatasetGraph,
    ) -> None:
        for kind, items in (("sources", sources), ("datasets", datasets), ("pipelines", pipelines)):
            for ident, item in items.items():
                if item.owner not in departments:
                    self.issue(
                        *self._at(kind, ident, "owner"), f"unknown department {item.owner!r}"
                    )
        for ref, dataset in datasets.items():
            self._check_dataset(ref, dataset, sources, datasets)
        self._check_pipelines(datasets, pipelines, graph)

    def _check_dataset(
        self,
        ref: str,
        dataset: Dataset,
        sources: dict[str, Source],
        datasets: dict[str, Dataset],
    ) -> None:
        if dataset.collect is not None:
            source = sources.get(dataset.collect.source)
            if source is None and dataset.collect.source not in self.invalid:
                self.issue(
                    *self._at("datasets", ref, "collect", "source"),
                    f"unknown source {dataset.collect.source!r}",
                )
            elif source is None:
                pass
            elif (stream := source.stream(dataset.collect.stream)) is None:
                self.issue(
                    *self._at("datasets", ref, "collect", "stream"),
                    f"source {source.name!r} has no stream {dataset.collect.stream!r}",
                )
            elif dataset.write == "append" and _reappends(stream):
                self.issue(
                    *self._at("datasets", ref, "write"),
                    "append without a source cursor would re-append every row each run: "
                    "set the stream's cursor, or write: merge or overwrite",
                )
        for i, upstream in enumerate(dataset.inputs):
            if upstream not in datasets and upstream not in self.invalid:
                self.issue(*self._at("datasets", ref, "inputs", i), f"unknown dataset {upstream!r}")

    def _check_pipelines(
        self, datasets: dict[str, Dataset], pipelines: dict[str, Pipeline], graph: DatasetGraph
    ) -> None:
        for name, pipeline in pipelines.items():
            for i, ref in enumerate(pipeline.builds):
                where = self._at("pipelines", name, "builds", i)
                if ref not in datasets:
                    if ref not in self.invalid:
                        self.issue(*where, f"unknown dataset {ref!r}")
                elif graph.builder(ref) != name or ref in pipeline.builds[:i]:
                    self.issue(*where, f"{ref} is already built by pipeline {graph.builder(ref)!r}")
                else:
                    self._check_build_order(pipeline, i, datasets[ref], where)
            if pipeline.schedule == "on_update" and not graph.external_inputs(name):
                self.issue(
                    *self._at("pipelines", name, "schedule"),
                    "on_update needs an input built by another pipeline",
                )
        for ref in datasets:
            if ref not in graph.builders:
                self.issue(*self._at("datasets", ref), f"{ref} is not built by any pipeline")

    def _check_build_order(
        self, pipeline: Pipeline, index: int, dataset: Dataset, where: tuple[Doc, FieldPath]
    ) -> None:
        for upstream in dataset.inputs:
            if upstream in pipeline.builds[index:]:
                self.issue(*where, f"{dataset.ref} is listed before its input {upstream}")

    def _check_exchange(
        self,
        departments: dict[str, Department],
        datasets: dict[str, Dataset],
        nodes: dict[str, Node],
        subscriptions: dict[str, Subscription],
    ) -> None:
        for name, node in nodes.items():
            if node.department not in departments:
                self.issue(
                    *self._at("nodes", name, "department"),
                    f"unknown department {node.department!r}",
                )
        for name, sub in subscriptions.items():
            self._check_subscription(name, sub, datasets, nodes)

    def _check_catalog(
        self,
        catalog: CatalogConfig,
        departments: dict[str, Department],
        datasets: dict[str, Dataset],
    ) -> None:
        if departments and catalog.platform_department not in departments:
            self.issues.append(
                ConfIssue(
                    self.conf / "catalog.yaml",
                    None,
                    "platform_department",
                    f"unknown department {catalog.platform_department!r}",
                )
            )
        for ref, dataset in datasets.items():
            if dataset.catalog.category not in catalog.categories:
                known = ", ".join(catalog.categories)
                self.issue(
                    *self._at("datasets", ref, "catalog", "category"),
                    f"unknown category {dataset.catalog.category!r}; known: {known}",
                )

    def _check_subscription(
        self, name: str, sub: Subscription, datasets: dict[str, Dataset], nodes: dict[str, Node]
    ) -> None:
        at = functools.partial(self._at, "subscriptions", name)
        dataset = datasets.get(sub.dataset)
        if dataset is None and sub.dataset not in self.invalid:
            self.issue(*at("dataset"), f"unknown dataset {sub.dataset!r}")
        node = nodes.get(sub.node)
        if node is None:
            self.issue(*at("node"), f"unknown exchange node {sub.node!r}")
            return
        endpoint = next((e for e in node.endpoints if e.name == sub.endpoint), None)
        if endpoint is None:
            names = ", ".join(e.name for e in node.endpoints)
            self.issue(
                *at("endpoint"), f"node {node.name} has no endpoint {sub.endpoint!r}: {names}"
            )
        elif isinstance(endpoint, FileEndpoint):
            if sub.table is not None:
                self.issue(*at("table"), f"endpoint {endpoint.name} takes files: set 'file'")
        elif sub.file is not None:
            self.issue(*at("file"), f"endpoint {endpoint.name} is a database: set 'table'")
        elif dataset is not None and not dataset.keys:
            self.issue(*at("dataset"), f"{sub.dataset} has no keys to upsert by")
        elif dataset is not None and sub.columns and set(dataset.keys) - set(sub.columns):
            self.issue(*at("columns"), f"a table push needs the keys {dataset.keys} in 'columns'")


def _reappends(stream: object) -> bool:
    """Whether every run reads the stream whole (no cursor, no register of what was read)."""
    return isinstance(stream, ApiStream) or (
        isinstance(stream, DatabaseStream) and stream.cursor is None
    )
