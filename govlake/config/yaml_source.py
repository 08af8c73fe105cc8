"""Read one YAML file into plain values that keep their line, expanding environment variables.

Strings may use ``${VAR}`` or ``${VAR:-default}``; an unset variable without a default is an
issue at the value's line, and the reference is left as written. A key given twice in one
mapping is an issue at its second line (YAML would keep the last silently).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from govlake.config.issues import ConfIssue

FieldPath = tuple[str | int, ...]
ENV_REF = re.compile(r"\$\{(?P<name>[A-Z_][A-Z0-9_]*)(?::-(?P<default>[^}]*))?\}")


@dataclass
class Doc:
    """A parsed YAML file with the line of every value, keyed by its path."""

    file: Path
    data: Any
    lines: dict[FieldPath, int]
    from_env: set[FieldPath] = field(default_factory=set)
    """Paths of the values written as ``${VAR}`` references."""

    def line(self, path: FieldPath) -> int | None:
        """Line of ``path`` or of its nearest located parent."""
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.lines:
                return self.lines[path[:cut]]
        return None

    def issue(self, path: FieldPath, message: str) -> ConfIssue:
        """An issue about the value at ``path``, named ``a.0.b`` and located at its line."""
        dotted = ".".join(str(p) for p in path)
        return ConfIssue(self.file, self.line(path), dotted, message)


def read_yaml(file: Path, env: Mapping[str, str], issues: list[ConfIssue]) -> Doc | None:
    """``file`` parsed with its lines, or None if it is not YAML; problems go to ``issues``."""
    try:
        node = yaml.compose(file.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        issues.append(ConfIssue(file, line, "", f"not valid YAML: {exc}".splitlines()[0]))
        return None
    doc = Doc(file, None, {})
    doc.data = _Values(doc, env, issues).of(node, ()) if node is not None else None
    return doc


@dataclass
class _Values:
    """Turns the composed nodes of ``doc`` into values, recording each one's line."""

    doc: Doc
    env: Mapping[str, str]
    issues: list[ConfIssue]

    def of(self, node: yaml.Node, path: FieldPath) -> Any:
        self.doc.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if key in out:
                    first = self.doc.lines[(*path, key)]
                    self.issues.append(
                        ConfIssue(self.doc.file, key_node.start_mark.line + 1,
                                  ".".join(str(p) for p in (*path, key)),
                                  f"duplicate key (first at line {first})")
                    )  # fmt: skip
                    continue
                self.doc.lines[(*path, key)] = key_node.start_mark.line + 1
                out[key] = self.of(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.of(item, (*path, i)) for i, item in enumerate(node.value)]
        value = yaml.SafeLoader(" ").construct_object(node)
        if not isinstance(value, str):
            return value
        if ENV_REF.fullmatch(value.strip()):
            self.doc.from_env.add(path)
        return self.expand(value, path)

    def expand(self, text: str, path: FieldPath) -> str:
        def substitute(match: re.Match[str]) -> str:
            name, default = match.group("name"), match.group("default")
            if name in self.env:
                return self.env[name]
            if default is not None:
                return default
            self.issues.append(self.doc.issue(path, f"environment variable {name} is not set"))
            return match.group(0)

        return ENV_REF.sub(substitute, text)
