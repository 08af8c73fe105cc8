"""Code and files that conf names must exist before anything runs.

A ``transform``, ``contract`` or ``spider`` is ``module:name``: the module must be importable
and define ``name`` at its top level. This is checked without running the module (its source is
found and read), so ``conf check`` stays fast and side-effect free. A derived dataset that
declares a ``quality`` block must have its suite ``expectations/<zone>__<table>.json``;
without it the quality gate would let every write through unchecked.
"""

from __future__ import annotations

import ast
import importlib.util
from functools import cache
from pathlib import Path

from govlake.config.entries import Entries
from govlake.config.issues import ConfIssue
from govlake.config.models import CrawlSource
from govlake.config.project import suite_file


def reference_issues(entries: Entries, expectations: Path) -> list[ConfIssue]:
    """Every ``module:name`` that does not resolve, and every declared suite that is missing."""
    issues = []
    declared = entries.declared
    for ref, dataset in entries.datasets.items():
        for field in ("transform", "contract"):
            path = getattr(dataset, field)
            if path and (problem := unresolved(path)):
                issues.append(declared.issue("datasets", ref, (field,), problem))
        wants_suite = dataset.zone != "bronze" and "quality" in dataset.model_fields_set
        if wants_suite and not suite_file(expectations, ref).is_file():
            message = f"no suite {suite_file(expectations, ref)} for the declared quality gate"
            issues.append(declared.issue("datasets", ref, ("quality",), message))
    for name, source in entries.sources.items():
        if isinstance(source, CrawlSource):
            for i, stream in enumerate(source.streams):
                if stream.spider and (problem := unresolved(stream.spider)):
                    issues.append(
                        declared.issue("sources", name, ("streams", i, "spider"), problem)
                    )
    return issues


def unresolved(path: str) -> str | None:
    """Why ``module:name`` cannot be loaded, or ``None`` when its module defines ``name``."""
    module, _, name = path.partition(":")
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as exc:
        return f"{path}: module {module} cannot be found ({exc})"
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return f"{path}: module {module} cannot be found"
    if name not in _top_level_names(spec.origin):
        return f"{path}: module {module} defines no {name!r}"
    return None


@cache
def _top_level_names(file: str) -> frozenset[str]:
    tree = ast.parse(Path(file).read_text(encoding="utf-8"), filename=file)
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return frozenset(names)
