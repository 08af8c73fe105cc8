"""Row filters declared in conf: parsed into a small expression language, never pasted as SQL.

A filter is one condition over the dataset's own columns: comparisons, ``AND`` / ``OR`` /
``NOT``, ``IN`` a list of literals, ``BETWEEN``, ``LIKE``, ``IS [NOT] NULL``, arithmetic,
casts, and a few scalar functions (``lower``, ``upper``, ``trim``, ``length``, ``coalesce``,
``abs``, ``round``, ``substring``). No statements, subqueries, table references or other
functions: a filter cannot read, write or call anything. What runs is the SQL rendered from the
parsed tree, not the text written in conf.

A filter over several tables (:func:`qualified_parts`) names each column by its table,
``"GL-000001".status = 'active'``, and is split into its ``AND``-ed parts, each knowing the
columns it reads, so that a part over one table can run where that table is read.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

DIALECT = "duckdb"


def _allowed() -> tuple[type[Any], ...]:
    from sqlglot import exp

    return (
        exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren,
        exp.And, exp.Or, exp.Not, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE,
        exp.Is, exp.In, exp.Between, exp.Like, exp.ILike,
        exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg, exp.Cast, exp.DataType,
        exp.Lower, exp.Upper, exp.Trim, exp.Length, exp.Coalesce, exp.Abs, exp.Round,
        exp.Substring,
    )  # fmt: skip


def parse(text: str, *, qualified: bool = False) -> Any:
    """The filter's expression tree; ``ValueError`` naming what is not allowed.

    Columns are named alone, or, when ``qualified``, each by its table (``t.column``).
    """
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(text, read=DIALECT)
    except sqlglot.errors.SqlglotError as exc:
        raise ValueError(f"not a condition: {str(exc).splitlines()[0]}") from None
    allowed = _allowed()
    for node in tree.walk():
        if not isinstance(node, allowed):
            shown = node.sql(DIALECT)[:60] or type(node).__name__
            raise ValueError(f"not allowed in a filter: {shown} ({type(node).__name__})")
        if isinstance(node, exp.Column) and not qualified and node.table:
            raise ValueError(f"columns are named alone, not {node.sql(DIALECT)}")
        if isinstance(node, exp.Column) and qualified and (not node.table or node.args.get("db")):
            raise ValueError(f'columns are named by their table, "table".column, not {node.sql()}')
    if isinstance(tree, exp.Column | exp.Literal | exp.Identifier):
        raise ValueError("a filter is a condition, e.g. amount > 0")
    return tree


def columns_of(text: str) -> set[str]:
    """The column names a filter refers to."""
    from sqlglot import exp

    return {c.name for c in parse(text).find_all(exp.Column)}


def render(text: str, columns: Collection[str], *, where: str) -> str:
    """The filter as DuckDB SQL, after checking it names only ``columns``."""
    unknown = sorted(columns_of(text) - set(columns))
    if unknown:
        raise ValueError(
            f"{where}: filter names {', '.join(unknown)}, not columns of the dataset "
            f"({', '.join(columns)})"
        )
    rendered: str = parse(text).sql(DIALECT)
    return rendered


@dataclass(frozen=True)
class Part:
    """One ``AND``-ed part of a filter over several tables, and the columns it reads."""

    tree: Any
    columns: frozenset[tuple[str, str]]
    """(table, column) pairs."""

    def sql(self, name: Callable[[str, str], str]) -> str:
        """The part as DuckDB SQL, each column renamed to the quoted identifier ``name`` gives."""
        from sqlglot import exp

        def renamed(node: Any) -> Any:
            if isinstance(node, exp.Column):
                return exp.column(name(node.table, node.name), quoted=True)
            return node

        rendered: str = self.tree.copy().transform(renamed).sql(DIALECT)
        return rendered


def qualified_parts(text: str, columns: Mapping[str, Collection[str]], *, where: str) -> list[Part]:
    """The ``AND``-ed parts of a filter naming ``columns[table]`` of each table, checked."""
    from sqlglot import exp

    tree = parse(text, qualified=True)
    for column in tree.find_all(exp.Column):
        table, name = column.table, column.name
        if table not in columns:
            raise ValueError(f"{where}: {table} is none of {', '.join(columns)}")
        if name not in columns[table]:
            raise ValueError(
                f"{where}: filter names {table}.{name}, not a column of {table} it may read "
                f"({', '.join(columns[table])})"
            )
    parts = list(tree.flatten()) if isinstance(tree, exp.And) else [tree]
    return [
        Part(part.unnest(), frozenset((c.table, c.name) for c in part.find_all(exp.Column)))
        for part in parts
    ]
