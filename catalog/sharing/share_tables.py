"""Per-grant share tables: what a Delta Sharing recipient may read, materialised as Delta files.

Delta Sharing hands out whole Parquet files, so a grant's columns, row filter and masks must
be in the files themselves. Each ``share_interface`` grant has its own Delta table under
``<lake root>/_shares/grant-<id>``, holding only the granted columns of the rows the grant's
filter lets through, masked by the one masking of every share path
(:func:`catalog.sharing.reads.masked`). Its commits record the source table's version they
were made from; :func:`refreshed` rebuilds the rows when the source has moved since: a MERGE
on the dataset's keys where the keys are granted in clear (so the table's change data feed
says which rows were inserted, updated or deleted), else a full overwrite. Each rebuild is one
``sharing.materialise`` audit row. Share tables are never vacuumed nor their logs cleaned, so
any version stays readable for time travel and the change data feed.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake

from catalog.sharing.grants import ShareGrant
from catalog.sharing.reads import masked
from catalog.store import Catalog
from govlake import row_filter
from govlake.errors import GovlakeError
from govlake.runtime import Runtime
from jobs.masking import masks_for
from jobs.query import select_rows
from services.identity import trail

SOURCE_VERSION = "govlake.source_version"
CONFIGURATION = {"delta.enableChangeDataFeed": "true", "delta.enableExpiredLogCleanup": "false"}
_locks: defaultdict[int, threading.Lock] = defaultdict(threading.Lock)


@dataclass(frozen=True)
class ShareFile:
    """One data file of a share table, as the protocol describes it."""

    path: str
    size: int
    rows: int | None
    stats: dict[str, Any]
    version: int | None = None
    timestamp: int | None = None
    kind: str = "file"  # file (a snapshot's), add, remove or cdf (a change's)


def location(rt: Runtime, grant: ShareGrant) -> Path:
    """The folder of ``grant``'s share table (a local lakehouse's)."""
    root = rt.lake.root.removeprefix("file://")
    if "://" in root:
        raise GovlakeError(f"share tables need a local lakehouse root, not {rt.lake.root}")
    return Path(root) / "_shares" / f"grant-{grant.id}"


def refreshed(rt: Runtime, grant: ShareGrant) -> DeltaTable:
    """``grant``'s share table, rebuilt first when the source table's version has moved."""
    path = location(rt, grant)
    with _locks[grant.id]:
        source = rt.lake.version(grant.dataset)
        if source is None:
            raise GovlakeError(f"table {grant.dataset} is not built yet")
        if DeltaTable.is_deltatable(str(path)):
            table = DeltaTable(str(path))
            if _made_from(table) == source:
                return table
        rows = granted_rows(rt, grant)
        properties = CommitProperties(custom_metadata={SOURCE_VERSION: str(source)})
        how = _write(rt, grant, path, rows, properties)
        table = DeltaTable(str(path))
        details = {"grant": grant.id, "application": grant.application, "rows": rows.num_rows,
                   "source_version": source, "version": table.version(), "how": how}  # fmt: skip
        trail.write(rt, rt.principal, "sharing.materialise", f"catalog:{grant.resource}",
                    "success", details)  # fmt: skip
        return table


def granted_rows(rt: Runtime, grant: ShareGrant) -> pa.Table:
    """The granted columns of the rows the grant's filter lets through, masked, in key order."""
    entry = Catalog(rt).resource(grant.resource, published=True)
    every = [c.name for c in entry.definition.columns]
    conditions, needed = [], list(grant.terms.columns)
    if grant.terms.row_filter:
        conditions.append(row_filter.render(grant.terms.row_filter, every, where="grant filter"))
        needed += sorted(row_filter.columns_of(grant.terms.row_filter) - set(needed))
    columns = grant.terms.columns
    keys = [k for k in rt.config.dataset(grant.dataset).keys if k in columns]
    # Read first, then filter: Arrow cannot push a filter down to a table whose files mix
    # string and string_view columns (as delta-rs's MERGE writes them).
    source = rt.lake.dataset(grant.dataset).to_table(columns=needed)
    return masked(rt, select_rows(source, columns, conditions, order_by=keys), grant)


def snapshot(table: DeltaTable) -> list[ShareFile]:
    """The data files of ``table`` at its loaded version, with their statistics."""
    actions = pa.table(table.get_add_actions(flatten=True)).to_pylist()
    return [ShareFile(a["path"], a["size_bytes"], a.get("num_records"), _stats(a)) for a in actions]


def changes(root: Path, start: int, end: int) -> list[ShareFile]:
    """The change files of versions ``start`` to ``end`` of the share table at ``root``.

    A version that wrote change data (a MERGE) is read from its ``cdc`` files; one that did
    not (the first write, an overwrite) from its added files (inserts) and removed ones
    (deletes), as Delta's change data feed is read.
    """
    found: list[ShareFile] = []
    for version in range(start, end + 1):
        actions = [
            json.loads(line)
            for line in (root / "_delta_log" / f"{version:020d}.json").read_text().splitlines()
            if line.strip()
        ]
        stamp = next(int(a["commitInfo"]["timestamp"]) for a in actions if "commitInfo" in a)
        cdc = [a["cdc"] for a in actions if "cdc" in a]
        picked = (
            [("cdf", c) for c in cdc]
            if cdc
            else [(kind, a[kind]) for a in actions for kind in ("add", "remove")
                  if kind in a and a[kind].get("dataChange", True)]
        )  # fmt: skip
        for kind, action in picked:
            size = action.get("size") or (root / action["path"]).stat().st_size
            found.append(ShareFile(action["path"], int(size), None, {}, version, stamp, kind))
    return found


def _write(
    rt: Runtime, grant: ShareGrant, path: Path, rows: pa.Table, properties: CommitProperties
) -> str:
    keys = rt.config.dataset(grant.dataset).keys
    masks = masks_for(rows.column_names, rt.config.catalog.sensitive_columns, grant.terms.clear)
    mergeable = bool(keys) and all(k in rows.column_names and k not in masks for k in keys)
    if not DeltaTable.is_deltatable(str(path)) or not mergeable:
        path.mkdir(parents=True, exist_ok=True)
        write_deltalake(str(path), rows, mode="overwrite", schema_mode="overwrite",
                        configuration=CONFIGURATION, commit_properties=properties)  # fmt: skip
        return "overwrite"
    on = " AND ".join(f't."{k}" = s."{k}"' for k in keys)
    changed = " OR ".join(
        f'(t."{c}" IS DISTINCT FROM s."{c}")' for c in rows.column_names if c not in keys
    )
    target = DeltaTable(str(path))
    before = target.version()
    merger = target.merge(rows, on, source_alias="s", target_alias="t",
                          commit_properties=properties)  # fmt: skip
    if changed:  # only a row whose granted values differ is updated
        merger = merger.when_matched_update_all(predicate=changed)
    merger.when_not_matched_insert_all().when_not_matched_by_source_delete().execute()
    if DeltaTable(str(path)).version() == before:  # nothing granted changed: no commit made
        write_deltalake(str(path), rows.schema.empty_table(), mode="append",
                        commit_properties=properties)  # fmt: skip
        return "unchanged"
    return "merge"


def _made_from(table: DeltaTable) -> int | None:
    for entry in table.history(1):
        if SOURCE_VERSION in entry:
            return int(entry[SOURCE_VERSION])
    return None


def _stats(action: dict[str, Any]) -> dict[str, Any]:
    stats: dict[str, Any] = {"numRecords": action.get("num_records")}
    for prefix, key in (("min.", "minValues"), ("max.", "maxValues"), ("null_count.", "nullCount")):
        values = {k[len(prefix) :]: v for k, v in action.items() if k.startswith(prefix)}
        if values:
            stats[key] = values
    return stats
