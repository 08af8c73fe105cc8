"""The composite query (综合查询): granted resources joined on shared keys, a page at a time.

A query names one to :data:`MAX_RESOURCES` published resources by code and refers to their
columns by code too: ``GL-000001.uscc`` in ``fields``, ``on`` and ``sort``,
``"GL-000001".uscc`` in the filter (the row-filter language, parsed, never pasted). Every
resource needs the caller's grant in force in mode ``composite_query``: one refused refuses the
whole query before any row is read, and each refusal is audited. Then each call counts against
every grant's quota.

Each resource is read as its own grant allows, before any join: its granted columns, the rows
its grant's row filter lets through, its sensitive columns masked unless the grant gives them
in clear. The caller's filter, fields, join columns and sort name granted columns only (400
naming the column otherwise), and the filter sees values as the caller gets them: masked where
masked. Its ``AND``-ed parts over one resource's unmasked columns run in that resource's scan;
the others after the join, over the masked values.

A join pair ``A.x = B.y`` is accepted when ``x`` is a key of ``A`` or ``y`` a key of ``B``,
both are granted, both are the same data element (the same description in the catalog, from
``conf/catalog.yaml``'s ``columns`` or the dataset's own), and both are shown alike: in clear
on both sides, or both masked by ``token`` (the keyed HMAC gives equal tokens for equal values,
so tokens join); any other mask on a join column is refused, since masked values no longer
identify. Without ``on``, each later resource joins the first on the first's keys, same names.
Joins are inner joins.

Rows come in ``sort`` order (``-`` before a column: descending; nulls last), then by every
resource's key, which the grants must therefore give: the order is total, so the opaque cursor,
the last row's order values bound to the query's resources, joins, filter and order, gives each
row once across pages. Each read is one ``data.read`` audit row per resource, with the rows of
that resource in the page, and counts them against its grant's usual volume.

Memory: every resource is scanned as a stream of batches (65,536 rows at most each,
:func:`jobs.query.scan`) of its granted columns, filtered in the scan, the
masked columns the query joins, filters after the join or sorts on masked batch by batch (the
other masked columns on the page's rows: a mask is a function of the value alone, so the
values are the same); DuckDB's hash join holds the filtered, projected rows of the resources it
builds on (all but the one it streams) and keeps only the ``limit + 1`` first rows of the
order (a top-N, not a sort of the join), inside the sandbox's ``memory_limit``. No table is
read whole into Python.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from catalog.records import CatalogEntry
from catalog.sharing import usage
from catalog.sharing.grants import ShareGrant
from catalog.sharing.reads import MAX_PAGE, BadSelection, granted
from catalog.sharing.terms import ShareMode
from govlake import row_filter
from govlake.runtime import Runtime
from jobs.masking import MaskKind, mask_batch, mask_key, mask_table, masks_for
from jobs.query import ConditionFailed, quoted, scan, select_streams
from services.identity import trail
from services.identity.policy import acting
from services.identity.settings import Clock, utc_now

MAX_RESOURCES = 4
MAX_SORT = 4
MODE: ShareMode = "composite_query"


@dataclass(frozen=True)
class Composite:
    """What the caller asks for: resources, joins, fields, a filter, an order, a page."""

    resources: list[str]
    on: list[str] = field(default_factory=list)
    fields: list[str] | None = None
    where: str | None = None
    sort: list[str] = field(default_factory=list)
    limit: int = 100
    cursor: str | None = None


@dataclass(frozen=True)
class CompositePage:
    """The rows (columns named ``CODE.column``), the next page's cursor (``None``: no more)."""

    rows: pa.Table
    next_cursor: str | None
    grants: list[ShareGrant]


@dataclass(frozen=True)
class _Side:
    """One resource of the query, read as its grant allows."""

    entry: CatalogEntry
    grant: ShareGrant
    keys: list[str]
    masks: dict[str, MaskKind]

    @property
    def code(self) -> str:
        return self.entry.code

    @property
    def columns(self) -> list[str]:
        return self.grant.terms.columns

    def element(self, column: str) -> str:
        """The data element (description) of ``column``."""
        return next((c.comment for c in self.entry.definition.columns if c.name == column), "")


@dataclass(frozen=True)
class _Plan:
    """The checked query: sides, join pairs per later side, filter parts, order, fields."""

    sides: list[_Side]
    joins: list[list[tuple[str, str]]]
    pushed: dict[str, list[str]]
    after_join: list[str]
    order: list[tuple[str, bool]]
    fields: list[str]
    digest: str
    compared: frozenset[str]
    """The columns (``CODE.column``) joined on, filtered after the join or sorted by."""

    def masks(self, side: _Side, *, compared: bool) -> dict[str, MaskKind]:
        """The side's masks by qualified name, of the compared columns or of the others."""
        named = {f"{side.code}.{c}": kind for c, kind in side.masks.items()}
        return {c: kind for c, kind in named.items() if (c in self.compared) == compared}


def composite_read(rt: Runtime, query: Composite, *, clock: Clock = utc_now) -> CompositePage:
    """A page of the resources of ``query`` joined, as the acting principal's grants allow."""
    actor = acting(rt)
    codes = query.resources
    if not 1 <= len(codes) <= MAX_RESOURCES or len(set(codes)) != len(codes):
        raise BadSelection(f"resources: 1 to {MAX_RESOURCES} distinct codes, not {codes}")
    found = [granted(rt, code, MODE, clock=clock) for code in codes]
    called = clock()  # the call's minute, where its rows are added however long it reads
    for _, grant in found:
        usage.count_call(rt, grant, actor, called)
    plan = _plan(rt, [_side(rt, entry, grant) for entry, grant in found], query)
    try:
        rows = _joined(rt, plan, query)
    except ConditionFailed as exc:
        raise BadSelection(f"filter {exc}") from None
    more = rows.num_rows > query.limit
    rows = rows.slice(0, query.limit)
    cursor = _cursor(rows, plan) if more else None
    for side in plan.sides:
        read = _rows_of(rows, side)
        details = {"mode": MODE, "grant": side.grant.id, "application": side.grant.application,
                   "rows": read, "table": side.entry.dataset,
                   "joined_with": [s.code for s in plan.sides if s is not side]}  # fmt: skip
        trail.write(rt, actor, "data.read", f"catalog:{side.code}", "success", details)
        usage.add_rows(rt, side.grant, actor, called, read)
    return CompositePage(rows.select(plan.fields), cursor, [s.grant for s in plan.sides])


def _joined(rt: Runtime, plan: _Plan, query: Composite) -> pa.Table:
    """The page's rows and one more, each resource's scan open while the join reads it.

    The columns the join compares are masked in the stream, before it; a mask being a function
    of the value alone, the others are masked on the page's rows, which gives the same values.
    """
    with ExitStack() as open_scans:
        streams = {
            f"s{i}": _masked_stream(
                open_scans.enter_context(_scan(rt, side, plan)), plan.masks(side, compared=True)
            )
            for i, side in enumerate(plan.sides)
        }
        sql, params = _sql(plan, streams, query)
        rows = select_streams(streams, sql, params)
    late = {c: kind for side in plan.sides for c, kind in plan.masks(side, compared=False).items()}
    return mask_table(rows, late, token_key=mask_key()) if late else rows


def _side(rt: Runtime, entry: CatalogEntry, grant: ShareGrant) -> _Side:
    rules = rt.config.catalog.sensitive_columns
    masks = masks_for(grant.terms.columns, rules, clear=grant.terms.clear)
    return _Side(entry, grant, rt.config.dataset(entry.dataset).keys, masks)


def _plan(rt: Runtime, sides: list[_Side], query: Composite) -> _Plan:
    by_code = {side.code: side for side in sides}
    if not 1 <= query.limit <= MAX_PAGE:
        raise BadSelection(f"limit must be 1 to {MAX_PAGE}, not {query.limit}")
    for side in sides:
        if not side.keys:
            raise BadSelection(f"{side.code} has no key: it can be neither joined nor paged")
        withheld = [k for k in side.keys if k not in side.columns]
        if withheld:
            raise BadSelection(
                f"{side.code}.{withheld[0]} is its key but not granted: a composite query "
                "orders and pages by every resource's key"
            )
    fields = (
        [_named(by_code, f, "fields") for f in query.fields]
        if query.fields
        else [f"{s.code}.{c}" for s in sides for c in s.columns]
    )
    pushed, after_join, filtered = _filter(by_code, query.where)
    order = _order(by_code, sides, query.sort)
    joins = _joins(by_code, sides, query.on)
    shape = [list(by_code), joins, query.where, order]
    digest = hashlib.sha256(json.dumps(shape, ensure_ascii=False).encode()).hexdigest()[:16]
    compared = {*filtered, *(name for name, _ in order), *(c for j in joins for p in j for c in p)}
    return _Plan(sides, joins, pushed, after_join, order, fields, digest, frozenset(compared))


def _split(by_code: dict[str, _Side], text: str, where: str) -> tuple[_Side, str]:
    code, dot, column = text.strip().partition(".")
    if not dot or code not in by_code:
        raise BadSelection(
            f"{where}: {text!r} names no resource of the query: qualify it, e.g. "
            f"{next(iter(by_code))}.{column or code}"
        )
    side = by_code[code]
    if column not in side.columns:
        raise BadSelection(
            f"{where}: {code}.{column} is not granted; granted: {', '.join(side.columns)}"
        )
    return side, column


def _named(by_code: dict[str, _Side], text: str, where: str) -> str:
    side, column = _split(by_code, text, where)
    return f"{side.code}.{column}"


def _filter(
    by_code: dict[str, _Side], where: str | None
) -> tuple[dict[str, list[str]], list[str], set[str]]:
    """The filter's parts run in each resource's scan, those run after the join, their columns."""
    pushed: dict[str, list[str]] = {code: [] for code in by_code}
    after_join: list[str] = []
    columns: set[str] = set()
    if not where:
        return pushed, after_join, columns
    granted_columns = {code: side.columns for code, side in by_code.items()}
    try:
        parts = row_filter.qualified_parts(where, granted_columns, where="filter")
    except ValueError as exc:
        raise BadSelection(str(exc)) from None
    for part in parts:
        tables = {table for table, _ in part.columns}
        if len(tables) == 1:
            (code,) = tables
            if not any(column in by_code[code].masks for _, column in part.columns):
                pushed[code].append(part.sql(lambda _, column: column))
                continue
        after_join.append(part.sql(lambda table, column: f"{table}.{column}"))
        columns |= {f"{table}.{column}" for table, column in part.columns}
    return pushed, after_join, columns


def _order(
    by_code: dict[str, _Side], sides: list[_Side], sort: list[str]
) -> list[tuple[str, bool]]:
    """(column, descending) pairs: the sort asked, then every resource's key, ascending."""
    if len(sort) > MAX_SORT:
        raise BadSelection(f"sort: at most {MAX_SORT} columns, not {len(sort)}")
    order = [(_named(by_code, s.strip().removeprefix("-"), "sort"), s.strip().startswith("-"))
             for s in sort]  # fmt: skip
    chosen = {name for name, _ in order}
    keys = [f"{side.code}.{key}" for side in sides for key in side.keys]
    return order + [(key, False) for key in keys if key not in chosen]


def _joins(
    by_code: dict[str, _Side], sides: list[_Side], on: list[str]
) -> list[list[tuple[str, str]]]:
    """For each resource after the first, its join pairs with those before it."""
    first = sides[0]
    pairs = on or [f"{first.code}.{k} = {s.code}.{k}" for s in sides[1:] for k in first.keys]
    position = {side.code: i for i, side in enumerate(sides)}
    joins: list[list[tuple[str, str]]] = [[] for _ in sides[1:]]
    for pair in pairs:
        left_text, equals, right_text = pair.partition("=")
        if not equals or "=" in right_text:
            raise BadSelection(f"on: {pair!r} is not one equality A.column = B.column")
        left, right = _split(by_code, left_text, "on"), _split(by_code, right_text, "on")
        if position[left[0].code] > position[right[0].code]:
            left, right = right, left
        if left[0] is right[0]:
            raise BadSelection(f"on: {pair!r} joins {left[0].code} with itself")
        _joinable(left, right)
        joins[position[right[0].code] - 1].append(
            (f"{left[0].code}.{left[1]}", f"{right[0].code}.{right[1]}")
        )
    for side, found in zip(sides[1:], joins, strict=True):
        if not found:
            raise BadSelection(f"on: {side.code} is joined to no resource listed before it")
    return joins


def _joinable(left: tuple[_Side, str], right: tuple[_Side, str]) -> None:
    """Refuse a pair that is no shared key, naming the column."""
    (a, x), (b, y) = left, right
    if x not in a.keys and y not in b.keys:
        raise BadSelection(
            f"on: {a.code}.{x} = {b.code}.{y} joins no key: {x} is not a key of {a.code} "
            f"({', '.join(a.keys)}) nor {y} of {b.code} ({', '.join(b.keys)})"
        )
    if not a.element(x) or a.element(x) != b.element(y):
        raise BadSelection(
            f"on: {b.code}.{y} is not the data element of {a.code}.{x} "
            f"({b.element(y) or 'undescribed'} vs {a.element(x) or 'undescribed'})"
        )
    for side, column, other in ((a, x, b.masks.get(y)), (b, y, a.masks.get(x))):
        mask = side.masks.get(column)
        if mask not in (None, "token") or mask != other:
            raise BadSelection(
                f"on: {side.code}.{column} is shown {_shown(mask)} and its partner "
                f"{_shown(other)}: a join column must be in clear on both sides or a token on both"
            )


def _shown(mask: MaskKind | None) -> str:
    return "in clear" if mask is None else f"masked by {mask}"


def _scan(rt: Runtime, side: _Side, plan: _Plan) -> AbstractContextManager[pa.RecordBatchReader]:
    every = [c.name for c in side.entry.definition.columns]
    conditions = list(plan.pushed[side.code])
    if side.grant.terms.row_filter:
        conditions.append(
            row_filter.render(side.grant.terms.row_filter, every, where="grant filter")
        )
    columns = {c: f"{side.code}.{c}" for c in side.columns}
    return scan(rt.lake, side.entry.dataset, columns, conditions, [])


def _masked_stream(
    reader: pa.RecordBatchReader, masks: dict[str, MaskKind]
) -> pa.RecordBatchReader:
    """``reader``'s batches with ``masks`` applied, one batch at a time."""
    if not masks:
        return reader
    key = mask_key()
    empty = pa.RecordBatch.from_pylist([], schema=reader.schema)
    schema = mask_batch(empty, masks, token_key=key).schema

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            yield mask_batch(batch, masks, token_key=key)

    return pa.RecordBatchReader.from_batches(schema, batches())


def _sql(
    plan: _Plan, streams: dict[str, pa.RecordBatchReader], query: Composite
) -> tuple[str, list[Any]]:
    names = list(streams)
    sql = f"SELECT * FROM {names[0]}"
    for name, pairs in zip(names[1:], plan.joins, strict=True):
        sql += f" JOIN {name} ON " + " AND ".join(f"{quoted(a)} = {quoted(b)}" for a, b in pairs)
    conditions = [f"({c})" for c in plan.after_join]
    params: list[Any] = []
    if query.cursor:
        types = {f.name: f.type for s in streams.values() for f in s.schema}
        last = _decoded(query.cursor, plan, types)
        conditions.append(_after(plan.order, last, params))
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    order = ", ".join(
        f"{quoted(c)} {'DESC' if desc else 'ASC'} NULLS LAST" for c, desc in plan.order
    )
    return f"{sql} ORDER BY {order} LIMIT {int(query.limit) + 1}", params


def _after(order: list[tuple[str, bool]], last: list[Any], params: list[Any]) -> str:
    """Rows after ``last`` in ``order`` (nulls last): (o1 after a) OR (o1 = a AND o2 after b) ..."""
    alternatives = []
    for depth, (column, desc) in enumerate(order):
        if last[depth] is None:
            continue  # nothing comes after a null, nulls being last
        terms, values = [], []
        for (name, _), value in zip(order[:depth], last[:depth], strict=True):
            terms.append(f"{quoted(name)} IS NULL" if value is None else f"{quoted(name)} = ?")
            values += [] if value is None else [value]
        terms.append(f"({quoted(column)} {'<' if desc else '>'} ? OR {quoted(column)} IS NULL)")
        alternatives.append("(" + " AND ".join(terms) + ")")
        params += [*values, last[depth]]
    return "(" + (" OR ".join(alternatives) or "FALSE") + ")"


def _cursor(rows: pa.Table, plan: _Plan) -> str:
    last = [_plain(rows.column(name)[-1].as_py()) for name, _ in plan.order]
    token = json.dumps({"q": plan.digest, "after": last}, ensure_ascii=False)
    return base64.urlsafe_b64encode(token.encode()).decode()


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float):
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _decoded(cursor: str, plan: _Plan, types: dict[str, pa.DataType]) -> list[Any]:
    refused = BadSelection("the cursor is not one this query gave")
    try:
        token = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise refused from None
    if not isinstance(token, dict) or token.get("q") != plan.digest:
        raise refused
    last = token.get("after")
    if not isinstance(last, list) or len(last) != len(plan.order):
        raise refused
    typed = []
    for (name, _), value in zip(plan.order, last, strict=True):
        if not (value is None or isinstance(value, str | int | float)):
            raise refused
        try:
            typed.append(None if value is None else pa.array([value]).cast(types[name])[0].as_py())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError):
            raise refused from None
    return typed


def _rows_of(rows: pa.Table, side: _Side) -> int:
    """How many distinct records of ``side`` the page holds (by its key)."""
    keys = [f"{side.code}.{k}" for k in side.keys]
    if not rows.num_rows:
        return 0
    return rows.select(keys).group_by(keys).aggregate([]).num_rows
