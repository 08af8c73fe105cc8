"""Best-effort file skipping for Delta Sharing queries: predicate hints and the limit hint.

The protocol lets a server return more files than the hints need, never fewer. A file is left
out only when its statistics prove that no row of it can satisfy the hints: a comparison of a
column with a literal that its minimum and maximum rule out, ``IS NULL`` on a column with no
nulls, ``IS NOT NULL`` on one with only nulls. Hints that cannot be read, columns without
statistics and values that do not compare keep the file. ``predicateHints`` are read in the
protocol's SQL subset (``col op literal``, ``literal op col``, ``col IS [NOT] NULL``),
``jsonPredicateHints`` in its JSON tree (``and``, ``or``, ``not``, ``isNull``, ``equal``,
``lessThan``, ``lessThanOrEqual``, ``greaterThan``, ``greaterThanOrEqual``). With a limit
hint, files are kept in order until they hold that many rows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from catalog.sharing.share_tables import ShareFile

_SQL = re.compile(
    r"^\s*(?:(?P<col>[A-Za-z_]\w*)\s*(?P<op><=|>=|<>|=|<|>)\s*(?P<lit>.+?)"
    r"|(?P<lit2>.+?)\s*(?P<op2><=|>=|<>|=|<|>)\s*(?P<col2>[A-Za-z_]\w*)"
    r"|(?P<ncol>[A-Za-z_]\w*)\s+IS\s+(?P<neg>NOT\s+)?NULL)\s*$",
    re.IGNORECASE,
)
_FLIPPED = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "<>": "<>"}
_JSON_OPS = {"equal": "=", "lessThan": "<", "lessThanOrEqual": "<=", "greaterThan": ">",
             "greaterThanOrEqual": ">="}  # fmt: skip
Tree = tuple[Any, ...]


def chosen(
    files: Sequence[ShareFile],
    predicate_hints: Sequence[str] | None,
    json_predicate_hints: str | None,
    limit_hint: int | None,
) -> list[ShareFile]:
    """The files the hints cannot rule out, cut after ``limit_hint`` rows."""
    trees = [t for t in (_from_sql(h) for h in predicate_hints or ()) if t is not None]
    if json_predicate_hints:
        trees += [t for t in [_from_json_text(json_predicate_hints)] if t is not None]
    kept = [f for f in files if all(_may_hold(t, f.stats) for t in trees)]
    if limit_hint is None:
        return kept
    cut: list[ShareFile] = []
    rows = 0
    for f in kept:
        if rows >= limit_hint and cut:
            break
        cut.append(f)
        rows += f.rows if f.rows is not None else limit_hint  # no count: assume it is enough
    return cut


def _from_sql(text: str) -> Tree | None:
    found = _SQL.match(text)
    if found is None:
        return None
    if found["ncol"]:
        tree: Tree = ("null", found["ncol"])
        return ("not", tree) if found["neg"] else tree
    column, op, literal = found["col"], found["op"], found["lit"]
    if column is None:
        column, op, literal = found["col2"], _FLIPPED[found["op2"]], found["lit2"]
    value = _sql_literal(literal.strip())
    return None if value is None else ("cmp", op, column, value)


def _sql_literal(text: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None


def _from_json_text(text: str) -> Tree | None:
    try:
        return _from_json(json.loads(text))
    except (ValueError, KeyError, TypeError, IndexError):
        return None


def _from_json(node: dict[str, Any]) -> Tree | None:
    op = node["op"]
    children = node.get("children", [])
    if op in ("and", "or"):
        parts = [_from_json(c) for c in children]
        if op == "and":  # an unreadable part of a conjunction can only keep more files
            kept = [p for p in parts if p is not None]
            return ("and", *kept) if kept else None
        return None if any(p is None for p in parts) else ("or", *parts)
    if op == "not":
        inner = _from_json(children[0])
        return None if inner is None else ("not", inner)
    if op == "isNull" and children[0]["op"] == "column":
        return ("null", children[0]["name"])
    if op in _JSON_OPS:
        left, right = children
        if left["op"] == "column" and right["op"] == "literal":
            return ("cmp", _JSON_OPS[op], left["name"], _json_literal(right))
        if left["op"] == "literal" and right["op"] == "column":
            return ("cmp", _FLIPPED[_JSON_OPS[op]], right["name"], _json_literal(left))
    return None


def _json_literal(node: dict[str, Any]) -> Any:
    value, kind = node["value"], node.get("valueType", "string")
    if kind in ("int", "long"):
        return int(value)
    if kind in ("float", "double"):
        return float(value)
    if kind == "bool":
        return str(value).lower() == "true"
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "string":
        return str(value)
    raise ValueError(f"no file skipping on {kind}")


def _may_hold(tree: Tree, stats: dict[str, Any]) -> bool:
    """False only when the statistics prove no row satisfies ``tree``."""
    kind = tree[0]
    if kind == "and":
        return all(_may_hold(t, stats) for t in tree[1:])
    if kind == "or":
        return any(_may_hold(t, stats) for t in tree[1:])
    if kind == "not":
        return _may_not_hold(tree[1], stats)
    if kind == "null":
        return stats.get("nullCount", {}).get(tree[1], 1) != 0
    _, op, column, value = tree
    low, high = stats.get("minValues", {}).get(column), stats.get("maxValues", {}).get(column)
    if low is None or high is None:
        return True
    try:
        return {
            "=": low <= value <= high, "<>": not (low == value == high), "<": low < value,
            "<=": low <= value, ">": high > value, ">=": high >= value,
        }[op]  # fmt: skip
    except TypeError:
        return True


def _may_not_hold(tree: Tree, stats: dict[str, Any]) -> bool:
    """False only when the statistics prove every row satisfies ``tree``."""
    kind = tree[0]
    if kind == "null":
        rows, nulls = stats.get("numRecords"), stats.get("nullCount", {}).get(tree[1])
        return rows is None or nulls is None or nulls < rows
    if kind == "not":
        return _may_hold(tree[1], stats)
    return True
