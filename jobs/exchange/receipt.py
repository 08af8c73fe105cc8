"""A receiver's check of delivered files against their manifests, field by field.

For each manifest: it names the file beside it (no other name, no path); the file is there,
of the stated size and SHA-256; its content reads in the stated format and encoding, with the
stated columns (and, where the format keeps them, types) and number of rows. Each problem names
the file and the field that fails. Files are read streaming, so a large delivery is checked in
bounded memory. A manifest and file both rewritten to agree cannot be told from the original
here: the exchange ledger at the sender holds the checksum of what was sent.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from govlake.digest import file_sha256
from jobs.exchange.files import MANIFEST_SUFFIX

FIELDS = ("file", "rows", "columns", "format", "encoding", "bytes", "sha256")


def verify(path: Path) -> list[str]:
    """Problems of delivered files against their manifests (empty when every one is intact).

    ``path`` is a data file, its manifest, or a folder (every manifest in it).
    """
    if path.is_dir():
        manifests = sorted(path.glob(f"*{MANIFEST_SUFFIX}"))
        if not manifests:
            return [f"{path}: no {MANIFEST_SUFFIX} files"]
        return [problem for m in manifests for problem in verify(m)]
    manifest_path = (
        path if path.name.endswith(MANIFEST_SUFFIX) else path.with_name(path.name + MANIFEST_SUFFIX)
    )
    if not manifest_path.exists():
        return [f"{path}: no manifest {manifest_path.name}"]
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        missing = [f for f in FIELDS if f not in manifest]
    except (ValueError, TypeError) as exc:
        return [f"{manifest_path}: not a delivery manifest: {exc}"]
    if not isinstance(manifest, dict) or missing:
        return [f"{manifest_path}: not a delivery manifest: no {', '.join(missing) or 'object'}"]
    return _check(manifest_path, manifest)


def _check(manifest_path: Path, manifest: dict[str, Any]) -> list[str]:
    beside = manifest_path.name.removesuffix(MANIFEST_SUFFIX)
    if manifest["file"] != beside:
        return [f"{manifest_path}: file: names {manifest['file']!r}, not {beside!r} beside it"]
    data = manifest_path.with_name(beside)
    if not data.is_file():
        return [f"{data}: missing (named by {manifest_path.name})"]
    size = data.stat().st_size
    if size != manifest["bytes"]:
        return [f"{data}: {size} bytes, the manifest says {manifest['bytes']}"]
    if file_sha256(data) != manifest["sha256"]:
        return [f"{data}: sha256: differs from the manifest's"]
    reader = READERS.get(str(manifest["format"]))
    if reader is None or not data.name.endswith("." + str(manifest["format"])):
        return [f"{data}: format: {manifest['format']!r} does not fit a {data.suffix} file"]
    try:
        names, types, rows = reader(data, str(manifest["encoding"]))
    except (OSError, ValueError, UnicodeDecodeError, pa.ArrowException) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [f"{data}: format: does not read as {manifest['format']}: {first}"]
    return _content(data, manifest, names, types, rows)


def _content(
    data: Path, manifest: dict[str, Any], names: list[str], types: list[str] | None, rows: int
) -> list[str]:
    problems = []
    stated = [c.get("name") for c in manifest["columns"]]
    if names != stated:
        problems.append(f"{data}: columns: {names}, the manifest says {stated}")
    elif types is not None and types != [c.get("type") for c in manifest["columns"]]:
        problems.append(f"{data}: columns: types {types} differ from the manifest's")
    if rows != manifest["rows"]:
        problems.append(f"{data}: rows: {rows}, the manifest says {manifest['rows']}")
    return problems


Shape = tuple[list[str], list[str] | None, int]


def _parquet(path: Path, encoding: str) -> Shape:
    meta = pq.ParquetFile(path)
    schema = meta.schema_arrow
    return schema.names, [str(f.type) for f in schema], meta.metadata.num_rows


def _csv(path: Path, encoding: str) -> Shape:
    with path.open(encoding=encoding, newline="") as lines:
        names = next(csv.reader(lines), [])
    # every column read as text: a CSV keeps no types, and inference may differ block to block
    convert = pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()))
    options = pacsv.ReadOptions(encoding=encoding, block_size=1 << 22)
    with pacsv.open_csv(path, read_options=options, convert_options=convert) as reader:
        rows = sum(batch.num_rows for batch in reader)
    return names, None, rows


def _jsonl(path: Path, encoding: str) -> Shape:
    names: list[str] = []
    rows = 0
    with path.open(encoding=encoding) as lines:
        for line in lines:
            if not line.strip():
                continue
            record = json.loads(line)
            if rows == 0:
                names = list(record)
            rows += 1
    return names, None, rows


def _xlsx(path: Path, encoding: str) -> Shape:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    try:
        sheet = book.worksheets[0]
        lines = sheet.iter_rows(values_only=True)
        header = [str(v) for v in next(lines, ())]
        rows = sum(1 for _ in lines)
    finally:
        book.close()
    return header, None, rows


READERS: dict[str, Callable[[Path, str], Shape]] = {
    "parquet": _parquet,
    "csv": _csv,
    "jsonl": _jsonl,
    "xlsx": _xlsx,
}
