"""The file download share mode (文件下载): a grant's rows written as a file, with a manifest.

:func:`export` reads through the one path of every share mode (:mod:`catalog.sharing.reads`):
the grant in force for the caller's organisation in ``file_download`` (refused and audited
without one), the call counted against its quota, the granted columns (or fewer, asked for) of
the rows its row filter and the caller's own filter let through, masked by the one masking. It
pins the table's current Delta version and streams it in record batches into one file (CSV in
UTF-8 or GBK, Parquet, or xlsx written row by row in openpyxl's write-only mode; an export
past an Excel sheet's rows is refused before anything is written), then writes the manifest:
resource, grant, columns with types, rows, each file's bytes and SHA-256, the version read,
when, format and encoding. The read is one ``data.read`` audit row with the mode, the grant
and the rows; a refused one, an ``access.denied`` or a ``refused`` ``data.read`` row.

Exports live under ``<home>/exports/grant-<id>/<export id>/``, the id random and the file
names made from the resource's code, so no string of the caller's becomes a path. They are
fetched with signed addresses (:mod:`catalog.sharing.signed_urls`) issued to the caller, which
expire with :data:`~catalog.sharing.signed_urls.LIFETIME`; :func:`fetched` checks the address,
that the caller is its holder, and the grant again, so a revoked or expired grant stops the
next download. Exports older than the addresses' lifetime are removed as new ones are made.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Literal, NoReturn

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from catalog.records import CatalogEntry
from catalog.sharing import reads, usage
from catalog.sharing.grants import ShareGrant
from catalog.sharing.reads import Selection
from catalog.sharing.signed_urls import LIFETIME, FileAddress, UrlRefused, checked, expiry
from catalog.sharing.terms import ShareMode
from govlake.config.exchange import FileSettings
from govlake.digest import file_sha256
from govlake.errors import GovlakeError
from govlake.principal import Principal
from govlake.runtime import Runtime
from jobs.exchange.files import EXCEL_MAX_ROWS, write
from jobs.query import streamed
from services.identity import trail
from services.identity.policy import acting
from services.identity.settings import Clock, utc_now

MODE: ShareMode = "file_download"
ROUTE = "exports"
MANIFEST = "manifest.json"
_EXPORT_ID = re.compile(r"[0-9a-f]{32}")
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\.(?:csv|parquet|xlsx|manifest\.json)")


class ExportRefused(GovlakeError):
    """An export the grant allows but that cannot be written as asked (too many rows, say)."""


class Asked(BaseModel):
    """What the caller asks for: the format, CSV's encoding, a filter and fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["csv", "parquet", "xlsx"]
    encoding: Literal["utf-8", "gbk"] = "utf-8"
    filter: str | None = Field(default=None, max_length=2000)
    fields: list[str] | None = Field(default=None, max_length=500)


@dataclass(frozen=True)
class Export:
    """An export written: its id, grant, rows, file names (manifest last), holder and expiry."""

    id: str
    grant: ShareGrant
    rows: int
    files: list[str]
    holder: str
    expires: int  # Unix seconds, as the addresses say

    def address(self, name: str) -> FileAddress:
        """The address of file ``name`` of the export, to sign."""
        return FileAddress(self.grant.id, f"{self.id}/{name}", self.holder, self.expires, ROUTE)


def export(rt: Runtime, code: str, asked: Asked, *, clock: Clock = utc_now) -> Export:
    """Write resource ``code`` as ``asked``, as the acting principal's grant allows."""
    actor = acting(rt)
    entry, grant = reads.granted(rt, code, MODE, clock=clock)
    now = clock()
    clean(rt, now)
    usage.count_call(rt, grant, actor, now)
    version = rt.lake.version(entry.dataset)
    details = {"mode": MODE, "grant": grant.id, "application": grant.application,
               "table": entry.dataset, "version": version, "format": asked.format}  # fmt: skip
    folder = _folder(rt, grant) / secrets.token_hex(16)
    try:
        if asked.encoding != "utf-8" and asked.format != "csv":  # a 400, as the schema allows it
            raise ExportRefused(f"encoding {asked.encoding} applies to csv only; "
                                f"{asked.format} is UTF-8")  # fmt: skip
        if version is None:
            raise ExportRefused(f"table {entry.dataset} is not built yet")
        rows, names = _written(rt, entry, grant, asked, version, folder, now)
    except GovlakeError as exc:  # BadSelection, ExportRefused, a value the format cannot hold
        trail.write(rt, actor, "data.read", f"catalog:{entry.code}", "refused",
                    {**details, "reason": str(exc)})  # fmt: skip
        raise
    done = Export(folder.name, grant, rows, names, actor.username, expiry(clock()))
    trail.write(rt, actor, "data.read", f"catalog:{entry.code}", "success",
                {**details, "rows": rows, "export": done.id})  # fmt: skip
    usage.add_rows(rt, grant, actor, now, rows)
    return done


def _written(
    rt: Runtime,
    entry: CatalogEntry,
    grant: ShareGrant,
    asked: Asked,
    version: int,
    folder: Path,
    now: datetime,
) -> tuple[int, list[str]]:
    """Stream the selection into ``folder``, then its manifest; the rows and the file names.

    Nothing is left of an export that fails.
    """
    selection = Selection(where=asked.filter, fields=asked.fields)
    columns, conditions, params = reads.scope(rt, entry, grant, selection)
    name = f"{entry.code}.{asked.format}"
    settings = FileSettings(format=asked.format, encoding=asked.encoding)
    folder.mkdir(parents=True)
    try:
        with streamed(rt.lake, entry.dataset, version, columns, conditions, params) as selected:
            if asked.format == "xlsx" and (count := selected.count()) > EXCEL_MAX_ROWS:
                raise ExportRefused(f"{count} rows do not fit an Excel sheet "
                                    f"({EXCEL_MAX_ROWS}): export csv or parquet")  # fmt: skip
            batches = _masked(rt, grant, selected.batches())
            try:
                rows = write(batches, folder / name, settings)
            except GovlakeError as exc:  # a value the format cannot hold, named with its row
                raise ExportRefused(str(exc)) from None
        manifest = _manifest(folder, entry, grant, asked, batches.schema, rows, version, now, name)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return rows, [name, manifest]


def fetched(rt: Runtime, address: FileAddress, signature: str, *, clock: Clock = utc_now) -> Path:
    """The file of a signed, unexpired ``address`` the acting principal holds, grant in force."""
    now = clock()
    checked(address, signature, now, safe=export_path)
    return held(rt, address, now)


def held(rt: Runtime, address: FileAddress, now: datetime) -> Path:
    """The file of ``address`` when the acting principal holds it and the grant is in force.

    Asked of every download, so a revocation or an expiry holds from the next one.
    """
    actor = acting(rt)
    export_path(address.path)
    if address.route != ROUTE:
        raise UrlRefused("not the address of an export")
    if address.holder != actor.username:
        _refuse(rt, actor, address, f"the address was issued to {address.holder}")
    grant = reads.still_granted(rt, actor, address.grant_id, MODE, now)
    root = _folder(rt, grant).resolve()
    target = (root / address.path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise FileNotFoundError(f"no export file {address.path!r}: it has been cleaned up")
    return target


def export_path(path: str) -> PurePosixPath:
    """``path`` as ``<export id>/<file name>`` of an export, or :class:`UrlRefused`."""
    parts = path.split("/")
    if len(parts) != 2 or not _EXPORT_ID.fullmatch(parts[0]) or not _FILE_NAME.fullmatch(parts[1]):
        raise UrlRefused(f"not a file of an export: {path!r}")
    return PurePosixPath(path)


def clean(rt: Runtime, now: datetime) -> list[Path]:
    """Remove the exports last written longer ago than a file address lives; those removed.

    An export's age is that of its newest file (the manifest, written as its addresses are
    issued), so an export still being written is never removed.
    """
    root = rt.config.home / ROUTE
    cutoff = (now - LIFETIME).timestamp()
    removed = []
    for folder in sorted(root.glob("grant-*/*")):
        try:
            written = max([folder.stat().st_mtime, *(f.stat().st_mtime for f in folder.iterdir())])
        except (FileNotFoundError, NotADirectoryError):  # removed by another clean meanwhile
            continue
        if written < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _folder(rt: Runtime, grant: ShareGrant) -> Path:
    return rt.config.home / ROUTE / f"grant-{grant.id}"


def _masked(rt: Runtime, grant: ShareGrant, batches: pa.RecordBatchReader) -> pa.RecordBatchReader:
    """The batches masked one at a time, as every share path masks them."""
    first = reads.masked(rt, batches.schema.empty_table(), grant).schema

    def each() -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield reads.masked(rt, batch, grant)

    return pa.RecordBatchReader.from_batches(first, each())


def _manifest(
    folder: Path,
    entry: CatalogEntry,
    grant: ShareGrant,
    asked: Asked,
    schema: pa.Schema,
    rows: int,
    version: int,
    now: datetime,
    name: str,
) -> str:
    """Write the manifest of file ``name`` beside it; the manifest's name."""
    data = folder / name
    manifest = {
        "resource": entry.code,
        "dataset": entry.dataset,
        "grant": grant.id,
        "application": grant.application,
        "version": version,
        "produced_at": now.isoformat(timespec="seconds"),
        "format": asked.format,
        "encoding": asked.encoding if asked.format == "csv" else "utf-8",
        "filter": asked.filter,
        "columns": [{"name": f.name, "type": str(f.type)} for f in schema],
        "rows": rows,
        "files": [{"name": name, "bytes": data.stat().st_size, "sha256": file_sha256(data)}],
    }
    text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
    written = f"{entry.code}.{MANIFEST}"
    (folder / written).write_text(text, encoding="utf-8")
    return written


def _refuse(rt: Runtime, actor: Principal, address: FileAddress, why: str) -> NoReturn:
    reason = f"{actor} may not download {address.path}: {why}"
    trail.write(rt, actor, "access.denied", f"grant-{address.grant_id}", "refused",
                {"verb": "read_data", "mode": MODE, "reason": reason})  # fmt: skip
    raise UrlRefused(reason)


def saved(rt: Runtime, done: Export, folder: Path, *, clock: Clock = utc_now) -> list[Path]:
    """Copy the files of ``done`` into ``folder``, each checked as a download is; their paths.

    Each data file's SHA-256 is checked against the manifest's: a mismatch is an error and
    nothing is left of that file.
    """
    folder.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in done.files:
        source = held(rt, done.address(name), clock())
        partial = folder / f".{name}.partial"
        shutil.copyfile(source, partial)
        copied.append(partial.replace(folder / name))
    manifest = json.loads(copied[-1].read_text(encoding="utf-8"))
    for file in manifest["files"]:
        path = folder / file["name"]
        if file_sha256(path) != file["sha256"]:
            path.unlink()
            raise GovlakeError(f"{path}: SHA-256 differs from the manifest's: removed")
    return copied
