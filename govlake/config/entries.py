"""Read every file of ``conf/`` and validate it with its model, collecting issues, not stopping.

Valid entries are kept by name with where each was declared, so the cross-file checks can point
at their fields; the names of entries that failed validation are kept too, so a reference to one
is not reported a second time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from govlake.config.catalog import CatalogConfig
from govlake.config.exchange import Node, PlatformConfig, Subscription
from govlake.config.issues import ConfIssue
from govlake.config.models import (
    Dataset,
    Department,
    EngineConfig,
    LakehouseConfig,
    Organisation,
    Pipeline,
    Source,
)
from govlake.config.yaml_source import Doc, FieldPath, read_yaml

SECRET_OPTION = re.compile(r"secret|password|passwd|token|credential|private|account_key|sas", re.I)
TOP_LEVEL_FILES = {
    "lakehouse.yaml",
    "engine.yaml",
    "departments.yaml",
    "platform.yaml",
    "catalog.yaml",
}


@dataclass
class Declared:
    """Where each valid entry was declared, by kind and name; names of entries that failed."""

    places: dict[tuple[str, str], tuple[Doc, FieldPath]] = field(default_factory=dict)
    invalid: set[str] = field(default_factory=set)

    def issue(self, kind: str, ident: str, path: FieldPath, message: str) -> ConfIssue:
        """An issue at ``path`` inside the entry ``ident`` of ``kind``, at its file and line."""
        doc, at = self.places[(kind, ident)]
        return doc.issue((*at, *path), message)


@dataclass
class Entries:
    """The valid entries of a conf folder and the issues found reading it.

    ``lakehouse`` is None when its file is missing or invalid, ``catalog`` when ``catalog.yaml``
    is invalid; ``issues`` then says why.
    """

    conf: Path
    lakehouse: LakehouseConfig | None
    engine: EngineConfig
    organisations: dict[str, Organisation]
    departments: dict[str, Department]
    sources: dict[str, Source]
    datasets: dict[str, Dataset]
    pipelines: dict[str, Pipeline]
    platform: PlatformConfig
    nodes: dict[str, Node]
    subscriptions: dict[str, Subscription]
    catalog: CatalogConfig | None
    declared: Declared
    issues: list[ConfIssue]


def read_entries(conf: Path, env: Mapping[str, str]) -> Entries:
    """Every file of the folder ``conf``, validated, with ``${VAR}`` expanded from ``env``."""
    reader = _Reader(conf, env)
    organisations, departments = reader.organisation_tree()
    entries = Entries(
        conf=conf,
        lakehouse=reader.lakehouse(),
        engine=reader.single("engine.yaml", EngineConfig, required=False) or EngineConfig(),
        organisations=organisations,
        departments=departments,
        sources=reader.per_file("sources", Source, "name"),
        datasets=reader.listed_dir("datasets", "datasets", Dataset, "ref"),
        pipelines=reader.per_file("pipelines", Pipeline, "name"),
        platform=reader.single("platform.yaml", PlatformConfig, required=False) or PlatformConfig(),
        nodes=reader.optional_list("exchange/nodes.yaml", "nodes", Node, "name"),
        subscriptions=reader.optional_list(
            "exchange/subscriptions.yaml", "subscriptions", Subscription, "name"
        ),
        catalog=reader.catalog(),
        declared=reader.declared,
        issues=reader.issues,
    )
    reader.unexpected_files()
    return entries


class _Reader:
    """Reads files of one conf folder into validated entries, adding to ``issues``."""

    def __init__(self, conf: Path, env: Mapping[str, str]) -> None:
        self.conf = conf
        self.env = env
        self.issues: list[ConfIssue] = []
        self.declared = Declared()

    def parse(self, file: Path) -> Doc | None:
        return read_yaml(file, self.env, self.issues)

    def missing(self, file: Path) -> None:
        self.issues.append(ConfIssue(file, None, "", "required file is missing"))

    def validate(self, doc: Doc, data: Any, path: FieldPath, model: Any) -> Any:
        try:
            return TypeAdapter(model).validate_python(data)
        except ValidationError as exc:
            tag = data.get("kind") if isinstance(data, dict) else None
            for error in exc.errors():
                loc = error["loc"]
                if tag is not None and loc and loc[0] == tag and tag not in data:
                    loc = loc[1:]  # a tagged union names the variant first
                if error["type"] == "union_tag_invalid":  # name the field that picks the variant
                    loc = (*loc, str(error["ctx"]["discriminator"]).strip("'"))
                message = (
                    error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
                )
                self.issues.append(doc.issue((*path, *loc), message))
            return None

    def single(self, name: str, model: Any, *, required: bool) -> Any:
        file = self.conf / name
        if not file.exists():
            if required:
                self.missing(file)
            return None
        doc = self.parse(file)
        return self.validate(doc, doc.data, (), model) if doc else None

    def lakehouse(self) -> LakehouseConfig | None:
        """``lakehouse.yaml``; a secret in its storage options must be a ``${VAR}`` reference."""
        file = self.conf / "lakehouse.yaml"
        if not file.exists():
            self.missing(file)
            return None
        doc = self.parse(file)
        config = self.validate(doc, doc.data, (), LakehouseConfig) if doc else None
        if doc and config is not None:
            for key in config.storage_options:
                if SECRET_OPTION.search(key) and ("storage_options", key) not in doc.from_env:
                    message = (
                        "a secret is not written in conf: use ${VAR} (an environment variable)"
                    )
                    self.issues.append(doc.issue(("storage_options", key), message))
        return config

    def catalog(self) -> CatalogConfig | None:
        catalog = self.single("catalog.yaml", CatalogConfig, required=False)
        if catalog is None and not (self.conf / "catalog.yaml").exists():
            return CatalogConfig()
        return catalog

    def organisation_tree(self) -> tuple[dict[str, Organisation], dict[str, Department]]:
        """``departments.yaml``: its ``departments`` and its optional ``organisations`` above."""
        organisations: dict[str, Organisation] = {}
        departments: dict[str, Department] = {}
        file = self.conf / "departments.yaml"
        if not file.exists():
            self.missing(file)
            return organisations, departments
        doc = self.parse(file)
        if doc:
            self.unexpected_fields(doc, ("departments", "organisations"))
            if isinstance(doc.data, dict) and "organisations" in doc.data:
                self.register_items(doc, "organisations", Organisation, "code", organisations)
            self.register_items(doc, "departments", Department, "code", departments)
        return organisations, departments

    def optional_list(self, name: str, key: str, model: Any, id_attr: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        file = self.conf / name
        doc = self.parse(file) if file.exists() else None
        if doc:
            self.collect(doc, key, model, id_attr, found)
        return found

    def listed_dir(self, folder: str, key: str, model: Any, id_attr: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for file in sorted((self.conf / folder).glob("*.yaml")):
            doc = self.parse(file)
            if doc:
                self.collect(doc, key, model, id_attr, found)
        return found

    def per_file(self, folder: str, model: Any, id_attr: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for file in sorted((self.conf / folder).glob("*.yaml")):
            doc = self.parse(file)
            obj = self.validate(doc, doc.data, (), model) if doc else None
            if doc and obj is not None:
                self.register(folder, doc, (), obj, id_attr, found)
            elif doc and isinstance(doc.data, dict):
                self.declared.invalid.add(str(doc.data.get("name")))
        return found

    def collect(self, doc: Doc, key: str, model: Any, id_attr: str, found: dict[str, Any]) -> None:
        self.unexpected_fields(doc, (key,))
        self.register_items(doc, key, model, id_attr, found)

    def register_items(
        self, doc: Doc, key: str, model: Any, id_attr: str, found: dict[str, Any]
    ) -> None:
        for path, item in self.items(doc, key):
            obj = self.validate(doc, item, path, model)
            if obj is not None:
                self.register(key, doc, path, obj, id_attr, found)
            elif isinstance(item, dict):
                ident = item.get(id_attr) or f"{item.get('zone')}.{item.get('name')}"
                self.declared.invalid.add(str(ident))

    def unexpected_fields(self, doc: Doc, keys: tuple[str, ...]) -> None:
        if isinstance(doc.data, dict):
            for extra in set(doc.data) - set(keys):
                self.issues.append(doc.issue((extra,), "unexpected field"))

    def items(self, doc: Doc, key: str) -> Iterator[tuple[FieldPath, Any]]:
        if not isinstance(doc.data, dict) or not isinstance(doc.data.get(key), list):
            self.issues.append(doc.issue((key,), f"expected a mapping with a '{key}' list"))
            return
        for i, item in enumerate(doc.data[key]):
            yield (key, i), item

    def register(
        self, kind: str, doc: Doc, path: FieldPath, obj: Any, id_attr: str, into: dict[str, Any]
    ) -> None:
        ident = getattr(obj, id_attr)
        if ident in into:
            first_doc, _ = self.declared.places[(kind, ident)]
            message = f"duplicate {kind} {ident!r} (first in {first_doc.file.name})"
            self.issues.append(doc.issue(path, message))
            return
        into[ident] = obj
        self.declared.places[(kind, ident)] = (doc, path)

    def unexpected_files(self) -> None:
        for file in sorted(self.conf.glob("*.y*ml")):
            if file.name not in TOP_LEVEL_FILES:
                self.issues.append(ConfIssue(file, None, "", "unexpected file in conf/"))
        for file in sorted(self.conf.rglob("*.yml")):
            if file.parent != self.conf:
                message = "not read: conf files end in .yaml (rename it)"
                self.issues.append(ConfIssue(file, None, "", message))
