"""One output format for every listing command: ``-o/--format table|json|jsonl|yaml|csv``.

A command builds a :class:`Listing` (a title, column labels and typed rows) and hands it to
:func:`emit`. ``table`` is for people; the others are for programs and keep values typed:
``json`` is one array, ``jsonl`` one object per line, ``yaml`` a list of mappings, ``csv`` a
header and rows. Keys are the labels turned into identifiers (``at (UTC)`` -> ``at_utc``,
``count_star()`` -> ``count_star``), so ``jq .[].at_utc`` works.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
import yaml
from rich import box
from rich.console import JustifyMethod
from rich.table import Table

from apps.cli.common import out


class Format(StrEnum):
    """How a listing is printed."""

    table = "table"
    json = "json"
    jsonl = "jsonl"
    yaml = "yaml"
    csv = "csv"


FormatOption = Annotated[
    Format,
    typer.Option(
        "-o", "--format", case_sensitive=False, help="table, json (an array), jsonl, yaml or csv."
    ),
]


@dataclass
class Listing:
    """What a listing command found: rows of typed values under column labels."""

    title: str
    columns: Sequence[str]
    rows: list[Sequence[Any]] = field(default_factory=list)
    right: frozenset[str] = frozenset()
    whole: frozenset[str] = frozenset()
    compact: bool = False

    def add(self, *values: Any) -> None:
        """Append one row, one value per column."""
        self.rows.append(values)


def emit(listing: Listing, fmt: Format) -> None:
    """Print ``listing`` in ``fmt``."""
    if fmt is Format.table:
        out.print(_rich(listing))
        return
    keys = identifiers(listing.columns)
    records = [dict(zip(keys, (_plain(v) for v in row), strict=True)) for row in listing.rows]
    if fmt is Format.json:
        sys.stdout.write(json.dumps(records, ensure_ascii=False, indent=2) + "\n")
    elif fmt is Format.jsonl:
        for record in records:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    elif fmt is Format.yaml:
        sys.stdout.write(yaml.safe_dump(records, allow_unicode=True, sort_keys=False))
    else:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(keys)
        writer.writerows([_cell(v) for v in row] for row in listing.rows)


def identifiers(labels: Sequence[str]) -> list[str]:
    """Labels as distinct identifiers: lower case, runs of other characters become ``_``."""
    keys: list[str] = []
    for label in labels:
        key = re.sub(r"\W+", "_", label.strip().lower()).strip("_") or "column"
        if key[0].isdigit():
            key = f"_{key}"
        base, n = key, 2
        while key in keys:
            key, n = f"{base}_{n}", n + 1
        keys.append(key)
    return keys


def _rich(listing: Listing) -> Table:
    """A table that folds long values instead of cutting them; ``compact`` draws no grid.

    ``whole`` columns stay on one line (a password to copy, a name to paste).
    """
    if listing.compact:
        view = Table(title=listing.title, box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
    else:
        view = Table(title=listing.title)
    cells = [[_cell(v) for v in row] for row in listing.rows]
    for i, column in enumerate(listing.columns):
        justify: JustifyMethod = "right" if column in listing.right else "left"
        if column in listing.whole:
            widest = max((len(row[i]) for row in cells), default=0)
            view.add_column(column, justify=justify, no_wrap=True, min_width=widest)
        else:
            view.add_column(column, justify=justify, overflow="fold")
    for row in cells:
        view.add_row(*row)
    return view


def _plain(value: Any) -> Any:
    """A JSON/YAML-native value: times as ISO 8601, nested values kept."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _cell(value: Any) -> str:
    """A value as one table or CSV cell."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, dict | list):
        return json.dumps(_plain(value), ensure_ascii=False)
    return str(value)
