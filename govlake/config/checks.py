"""Checks across the files of ``conf/``: every reference resolves, and what it names fits.

Organisations form a tree (a province has no parent, a city's parent is a province, a
department's parent is an organisation; one code names one organisation or department); owners
and node departments are declared departments; a dataset's source, stream and inputs
exist; each dataset is built by exactly one pipeline, after its inputs; an ``on_update``
pipeline has an input that another pipeline builds; a subscription's dataset, node and endpoint
fit together; catalog categories and the platform department are declared. Each issue points at
the field's file and line; a reference to an entry that failed validation is not reported again.
"""

from __future__ import annotations

from govlake.config.catalog import CatalogConfig, sharing_of
from govlake.config.entries import Entries
from govlake.config.exchange import FileEndpoint, Subscription
from govlake.config.graph import DatasetGraph
from govlake.config.issues import ConfIssue
from govlake.config.models import ApiStream, DatabaseStream, Dataset, Pipeline
from govlake.config.yaml_source import FieldPath

# The levels an organisation of each level may belong to: the province is the root.
PARENT_LEVELS: dict[str, tuple[str, ...]] = {
    "province": (),
    "city": ("province",),
    "department": ("province", "city"),
}


def cross_check(entries: Entries, graph: DatasetGraph) -> list[ConfIssue]:
    """Every cross-file problem of ``entries``, whose dataset graph is ``graph``."""
    checks = _Checks(entries, graph)
    checks.organisation_tree()
    checks.owners()
    for ref, dataset in entries.datasets.items():
        checks.dataset(ref, dataset)
    checks.pipelines()
    checks.exchange()
    if entries.catalog is not None:  # else its own errors are reported
        checks.catalog(entries.catalog)
    return checks.issues


class _Checks:
    """The checks of one conf folder, adding to ``issues``."""

    def __init__(self, entries: Entries, graph: DatasetGraph) -> None:
        self.entries = entries
        self.graph = graph
        self.invalid = entries.declared.invalid
        self.issues: list[ConfIssue] = []

    def issue(self, kind: str, ident: str, path: FieldPath, message: str) -> None:
        self.issues.append(self.entries.declared.issue(kind, ident, path, message))

    def organisation_tree(self) -> None:
        organisations = self.entries.organisations
        for code, organisation in organisations.items():
            if code in self.entries.departments:
                self.issue("organisations", code, ("code",), f"{code!r} is also a department")
            self.tree_parent("organisations", code, organisation.parent, organisation.level)
        for code, department in self.entries.departments.items():
            self.tree_parent("departments", code, department.parent, "department")

    def tree_parent(self, kind: str, code: str, parent: str | None, level: str) -> None:
        """The parent of ``code`` is declared and one level up: a province is the root."""
        allowed = PARENT_LEVELS[level]
        if parent is None or parent in self.invalid:
            return
        found = self.entries.organisations.get(parent)
        if not allowed:
            self.issue(kind, code, ("parent",), f"a {level} is the root: it has no parent")
        elif found is None:
            self.issue(kind, code, ("parent",), f"unknown organisation {parent!r}")
        elif found.level not in allowed:
            levels = " or ".join(allowed)
            message = f"a {level} belongs to a {levels}; {parent!r} is a {found.level}"
            self.issue(kind, code, ("parent",), message)

    def owners(self) -> None:
        entries = self.entries
        kinds = (
            ("sources", entries.sources),
            ("datasets", entries.datasets),
            ("pipelines", entries.pipelines),
        )
        for kind, items in kinds:
            for ident, item in items.items():
                if item.owner not in entries.departments:
                    self.issue(kind, ident, ("owner",), f"unknown department {item.owner!r}")

    def dataset(self, ref: str, dataset: Dataset) -> None:
        if dataset.collect is not None:
            self.collected(ref, dataset)
        for i, upstream in enumerate(dataset.inputs):
            if upstream not in self.entries.datasets and upstream not in self.invalid:
                self.issue("datasets", ref, ("inputs", i), f"unknown dataset {upstream!r}")

    def collected(self, ref: str, dataset: Dataset) -> None:
        assert dataset.collect is not None
        collect = dataset.collect
        source = self.entries.sources.get(collect.source)
        if source is None:
            if collect.source not in self.invalid:
                self.issue(
                    "datasets", ref, ("collect", "source"), f"unknown source {collect.source!r}"
                )
        elif (stream := source.stream(collect.stream)) is None:
            message = f"source {source.name!r} has no stream {collect.stream!r}"
            self.issue("datasets", ref, ("collect", "stream"), message)
        elif dataset.write == "append" and _reappends(stream):
            message = (
                "append without a source cursor would re-append every row each run: "
                "set the stream's cursor, or write: merge or overwrite"
            )
            self.issue("datasets", ref, ("write",), message)

    def pipelines(self) -> None:
        for name, pipeline in self.entries.pipelines.items():
            for i, ref in enumerate(pipeline.builds):
                self.build(pipeline, i, ref)
            if pipeline.schedule == "on_update" and not self.graph.external_inputs(name):
                message = "on_update needs an input built by another pipeline"
                self.issue("pipelines", name, ("schedule",), message)
        for ref in self.entries.datasets:
            if ref not in self.graph.builders:
                self.issue("datasets", ref, (), f"{ref} is not built by any pipeline")

    def build(self, pipeline: Pipeline, index: int, ref: str) -> None:
        """``ref``, the ``index``-th dataset ``pipeline`` builds: declared, built once, in order."""
        where = ("builds", index)
        dataset = self.entries.datasets.get(ref)
        if dataset is None:
            if ref not in self.invalid:
                self.issue("pipelines", pipeline.name, where, f"unknown dataset {ref!r}")
            return
        builder = self.graph.builder(ref)
        if builder != pipeline.name or ref in pipeline.builds[:index]:
            self.issue(
                "pipelines", pipeline.name, where, f"{ref} is already built by pipeline {builder!r}"
            )
            return
        for upstream in dataset.inputs:
            if upstream in pipeline.builds[index:]:
                message = f"{ref} is listed before its input {upstream}"
                self.issue("pipelines", pipeline.name, where, message)

    def exchange(self) -> None:
        for name, node in self.entries.nodes.items():
            if node.department not in self.entries.departments:
                self.issue(
                    "nodes", name, ("department",), f"unknown department {node.department!r}"
                )
        for name, sub in self.entries.subscriptions.items():
            self.subscription(name, sub)

    def subscription(self, name: str, sub: Subscription) -> None:
        dataset = self.entries.datasets.get(sub.dataset)
        if dataset is None and sub.dataset not in self.invalid:
            self.issue("subscriptions", name, ("dataset",), f"unknown dataset {sub.dataset!r}")
        node = self.entries.nodes.get(sub.node)
        if node is None:
            self.issue("subscriptions", name, ("node",), f"unknown exchange node {sub.node!r}")
            return
        if dataset is not None and node.department != dataset.owner:
            self.shared(name, sub, dataset)
        endpoint = next((e for e in node.endpoints if e.name == sub.endpoint), None)
        if endpoint is None:
            names = ", ".join(e.name for e in node.endpoints)
            message = f"node {node.name} has no endpoint {sub.endpoint!r}: {names}"
            self.issue("subscriptions", name, ("endpoint",), message)
        elif isinstance(endpoint, FileEndpoint):
            if sub.table is not None:
                message = f"endpoint {endpoint.name} takes files: set 'file'"
                self.issue("subscriptions", name, ("table",), message)
        elif sub.file is not None:
            message = f"endpoint {endpoint.name} is a database: set 'table'"
            self.issue("subscriptions", name, ("file",), message)
        elif dataset is not None:
            self.table_push(name, sub, dataset)

    def shared(self, name: str, sub: Subscription, dataset: Dataset) -> None:
        """A flow to another department needs a grant, which a not-shared dataset never gets."""
        if sharing_of(dataset) == "not_shared":
            message = (
                f"{sub.dataset} is not shared (sharing: not_shared, classification "
                f"{dataset.classification}): no grant can let it go to node {sub.node}"
            )
            self.issue("subscriptions", name, ("dataset",), message)

    def table_push(self, name: str, sub: Subscription, dataset: Dataset) -> None:
        if not dataset.keys:
            self.issue(
                "subscriptions", name, ("dataset",), f"{sub.dataset} has no keys to upsert by"
            )
        elif sub.columns and set(dataset.keys) - set(sub.columns):
            message = f"a table push needs the keys {dataset.keys} in 'columns'"
            self.issue("subscriptions", name, ("columns",), message)

    def catalog(self, catalog: CatalogConfig) -> None:
        departments = self.entries.departments
        if departments and catalog.platform_department not in departments:
            self.issues.append(
                ConfIssue(
                    self.entries.conf / "catalog.yaml",
                    None,
                    "platform_department",
                    f"unknown department {catalog.platform_department!r}",
                )
            )
        for ref, dataset in self.entries.datasets.items():
            if dataset.catalog.category not in catalog.categories:
                known = ", ".join(catalog.categories)
                message = f"unknown category {dataset.catalog.category!r}; known: {known}"
                self.issue("datasets", ref, ("catalog", "category"), message)


def _reappends(stream: object) -> bool:
    """Whether every run reads the stream whole (no cursor, no register of what was read)."""
    return isinstance(stream, ApiStream) or (
        isinstance(stream, DatabaseStream) and stream.cursor is None
    )
