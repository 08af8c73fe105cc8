"""Reading a shared resource: the one path every query share mode and the file download take.

:func:`read` finds the grant in force for the caller's organisation on the resource in the
mode asked (refused and audited when there is none), counts the call against the grant's
quota, and reads only the granted columns of the rows the grant's row filter lets through,
further narrowed by the caller's own filter (parsed like the grant's, over granted columns
the grant does not mask, so that no condition probes a value the grant withholds or hides),
in key order, a page at a time, its sensitive columns masked unless the grant gives them in
clear; a filter DuckDB cannot evaluate over the data (two types compared) is refused too. A
``not_shared`` resource is refused whatever grant it has. Each read is one ``data.read`` audit
row with the mode, the grant and the rows returned, and counts against the grant's quota and
usual volume (:mod:`catalog.sharing.usage`).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import pyarrow as pa

from catalog.records import CatalogEntry
from catalog.sharing import grants, usage
from catalog.sharing.grants import ShareGrant
from catalog.sharing.terms import ShareMode
from catalog.store import Catalog
from govlake import row_filter
from govlake.errors import GovlakeError
from govlake.principal import Principal
from govlake.runtime import Runtime
from jobs.masking import MaskKind, mask_batch, mask_key, mask_table, masks_for
from jobs.query import ConditionFailed, select
from services.identity import trail
from services.identity.organisations import OrgTree
from services.identity.policy import AccessDenied, acting
from services.identity.settings import Clock, utc_now

MAX_PAGE = 1000
Rows = TypeVar("Rows", pa.Table, pa.RecordBatch)


class BadSelection(GovlakeError):
    """A filter, field, key, page size or cursor the caller may not ask for."""


@dataclass(frozen=True)
class Selection:
    """What the caller asks for: a record by its key, or a filter, fields, a page and a cursor."""

    record: str | None = None
    where: str | None = None
    fields: list[str] | None = None
    limit: int = 100
    cursor: str | None = None


@dataclass(frozen=True)
class Page:
    """The rows read, the cursor of the next page (``None``: no more), and the grant used."""

    rows: pa.Table
    next_cursor: str | None
    grant: ShareGrant


def read(
    rt: Runtime, code: str, mode: ShareMode, selection: Selection, *, clock: Clock = utc_now
) -> Page:
    """A page of resource ``code`` in ``mode``, as the acting principal's grant allows."""
    actor = acting(rt)
    entry, grant = granted(rt, code, mode, clock=clock)
    called = clock()  # the call's minute, where its rows are added however long it reads
    usage.count_call(rt, grant, actor, called)
    keys = rt.config.dataset(entry.dataset).keys
    if not 1 <= selection.limit <= MAX_PAGE:
        raise BadSelection(f"limit must be 1 to {MAX_PAGE}, not {selection.limit}")
    columns, conditions, params = scope(rt, entry, grant, selection)
    try:
        rows = select(rt.lake, entry.dataset, columns, conditions, params,
                      order_by=keys, limit=selection.limit + 1)  # fmt: skip
    except ConditionFailed as exc:
        raise BadSelection(f"filter {exc}") from None
    more = rows.num_rows > selection.limit
    rows = masked(rt, rows.slice(0, selection.limit), grant)
    cursor = _cursor_after(rows, keys) if more and set(keys) <= set(columns) else None
    details = {"mode": mode, "grant": grant.id, "application": grant.application,
               "rows": rows.num_rows, "table": entry.dataset}  # fmt: skip
    trail.write(rt, actor, "data.read", f"catalog:{entry.code}", "success", details)
    usage.add_rows(rt, grant, actor, called, rows.num_rows)
    return Page(rows, cursor, grant)


def masked(rt: Runtime, rows: Rows, grant: ShareGrant) -> Rows:
    """``rows`` (a table or a batch) with the sensitive columns the grant does not clear masked.

    The rules of ``conf/catalog.yaml`` say how (:mod:`jobs.masking`): the one masking of every
    share path.
    """
    masks = _masks(rt, rows.schema.names, grant)
    if not masks:
        return rows
    if isinstance(rows, pa.RecordBatch):
        return mask_batch(rows, masks, token_key=mask_key())
    return mask_table(rows, masks, token_key=mask_key())


def scope(
    rt: Runtime, entry: CatalogEntry, grant: ShareGrant, selection: Selection
) -> tuple[list[str], list[str], list[Any]]:
    """The columns, the SQL conditions and their parameters of ``selection`` under ``grant``.

    The columns are the fields asked for (default: every granted column), each of them
    granted; the conditions, the grant's row filter, the caller's filter (over granted
    columns the grant does not mask), the record's key and the cursor's position, each rendered
    from a parse.
    """
    keys = rt.config.dataset(entry.dataset).keys
    masked_columns = _masks(rt, grant.terms.columns, grant)
    return _fields(grant, selection), *_conditions(entry, grant, selection, keys, masked_columns)


def _masks(rt: Runtime, columns: list[str], grant: ShareGrant) -> dict[str, MaskKind]:
    rules = rt.config.catalog.sensitive_columns
    return masks_for(columns, rules, clear=grant.terms.clear)


def still_granted(
    rt: Runtime, actor: Principal, grant_id: int, mode: ShareMode, now: datetime
) -> ShareGrant:
    """Grant ``grant_id`` when it is in force now in ``mode`` for ``actor``'s organisation.

    Else refused and audited as every refusal of a read is: a revocation or an expiry holds
    from the next request, even for an address issued before it.
    """
    with rt.platform_db.connect() as conn:
        grant = grants.by_id(conn, grant_id)
    lineage = OrgTree.of(rt.config).lineage(actor.organisation)
    why = (
        f"no grant {grant_id} by {mode} for {actor.organisation}"
        if grant is None or grant.mode != mode or grant.organisation not in lineage
        else "an auditor reads the audit and nothing else" if actor.holds("auditor")
        else f"grant {grant_id} is {grant.status}" if grant.status != "active"
        else f"grant {grant_id} is outside its period" if not grant.in_force(now)
        else None
    )  # fmt: skip
    if why is not None:
        _refuse(rt, actor, grant.resource if grant else f"grant-{grant_id}", mode, why)
    assert grant is not None
    return grant


def granted(
    rt: Runtime, code: str, mode: ShareMode, *, clock: Clock = utc_now
) -> tuple[CatalogEntry, ShareGrant]:
    """Resource ``code`` and the acting principal's grant on it in ``mode``, or refused.

    An unknown or unpublished code is refused as an ungranted one is, and audited alike.
    """
    actor = acting(rt)
    entry = _entry(rt, actor, code, mode)
    return entry, _grant(rt, actor, entry, mode, clock())


def _entry(rt: Runtime, actor: Principal, code: str, mode: ShareMode) -> CatalogEntry:
    """The published resource; an unknown or unpublished code is refused like an ungranted one."""
    try:
        return Catalog(rt).resource(code, published=True)
    except GovlakeError:
        _refuse(rt, actor, code, mode, "no published resource of that code")


def _grant(
    rt: Runtime, actor: Principal, entry: CatalogEntry, mode: ShareMode, now: datetime
) -> ShareGrant:
    if entry.definition.sharing.type == "not_shared":  # whatever grant was made before
        _refuse(rt, actor, entry.code, mode, f"{entry.code} is not shared (不予共享)")
    lineage = OrgTree.of(rt.config).lineage(actor.organisation)
    with rt.platform_db.connect() as conn:
        found = grants.in_force(conn, lineage, entry.dataset, now, mode)
    if actor.holds("auditor") or not found:
        _refuse(rt, actor, entry.code, mode, f"no grant in force for {actor.organisation}")
    return found[0]


def _refuse(rt: Runtime, actor: Principal, code: str, mode: ShareMode, why: str) -> NoReturn:
    reason = f"{actor} may not read {code} by {mode}: {why}"
    trail.write(rt, actor, "access.denied", f"catalog:{code}", "refused",
                {"verb": "read_data", "mode": mode, "reason": reason})  # fmt: skip
    raise AccessDenied(reason)


def _fields(grant: ShareGrant, selection: Selection) -> list[str]:
    granted = grant.terms.columns
    asked = selection.fields or granted
    withheld = [f for f in asked if f not in granted]
    if withheld:
        raise BadSelection(f"not granted: {', '.join(withheld)}; granted: {', '.join(granted)}")
    return list(dict.fromkeys(asked))


def _conditions(
    entry: CatalogEntry,
    grant: ShareGrant,
    selection: Selection,
    keys: list[str],
    masked: Collection[str],
) -> tuple[list[str], list[Any]]:
    every = [c.name for c in entry.definition.columns]
    conditions: list[str] = []
    params: list[Any] = []
    if grant.terms.row_filter:
        conditions.append(row_filter.render(grant.terms.row_filter, every, where="grant filter"))
    if selection.where:
        try:
            conditions.append(
                row_filter.render(selection.where, grant.terms.columns, where="filter")
            )
            probed = sorted(row_filter.columns_of(selection.where) & set(masked))
        except ValueError as exc:
            raise BadSelection(str(exc)) from None
        if probed:
            raise BadSelection(
                f"filter names {', '.join(probed)}, masked for this grant: a filter here compares "
                "clear values, so it may not name a masked column (POST /v1/composite compares "
                "them masked)"
            )
    if selection.record is not None:
        if len(keys) != 1:
            raise BadSelection(f"{entry.code} is keyed by {keys or 'nothing'}: filter instead")
        conditions.append(f'CAST("{keys[0]}" AS VARCHAR) = ?')
        params.append(selection.record)
    if selection.cursor:
        _after(_decoded(selection.cursor, keys), keys, conditions, params)
    return conditions, params


def _after(last: list[Any], keys: list[str], conditions: list[str], params: list[Any]) -> None:
    """Rows after ``last`` in key order: (k1 > a) OR (k1 = a AND k2 > b) ..."""
    alternatives = []
    for depth, name in enumerate(keys):
        equal = [f'"{k}" = ?' for k in keys[:depth]]
        alternatives.append("(" + " AND ".join([*equal, f'"{name}" > ?']) + ")")
        params.extend([*last[:depth], last[depth]])
    conditions.append(" OR ".join(alternatives))


def _cursor_after(rows: pa.Table, keys: list[str]) -> str:
    last = [rows.column(k)[-1].as_py() for k in keys]
    return base64.urlsafe_b64encode(json.dumps(last, default=str).encode()).decode()


def _decoded(cursor: str, keys: list[str]) -> list[Any]:
    try:
        last = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadSelection("the cursor is not one this API gave") from None
    if not isinstance(last, list) or len(last) != len(keys) or not keys:
        raise BadSelection("the cursor is not one this API gave")
    if not all(isinstance(v, str | int | float) for v in last):
        raise BadSelection("the cursor is not one this API gave")
    return last
