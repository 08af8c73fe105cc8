"""A receiver's check of delivered files against their manifests, field by field.

For each manifest: it names the file beside it (no other name, no path), the name and batch id
the subscription and versions it states give; the file is there, of the stated size and SHA-256;
its content reads in the stated format and encoding, with the stated columns and types (Parquet
keeps them; every CSV and JSON Lines value must read as its column's stated type) and number
of rows. Each problem names the file and the field that fails. Files are read streaming, so a
large delivery is checked in bounded memory. A manifest and file both rewritten to agree cannot
be told from the original here: the exchange ledger at the sender holds the checksum of what
was sent.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from govlake.config.exchange import FileSettings
from govlake.digest import file_sha256
from jobs.exchange.files import MANIFEST_SUFFIX, file_name

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
        return [f"{data}: bytes: {size}, the manifest says {manifest['bytes']}"]
    if file_sha256(data) != manifest["sha256"]:
        return [f"{data}: sha256: differs from the manifest's"]
    reader = READERS.get(str(manifest["format"]))
    if reader is None or not data.name.endswith("." + str(manifest["format"])):
        return [f"{data}: format: {manifest['format']!r} does not fit a {data.suffix} file"]
    named = _named_batch(manifest)
    if named:
        return [f"{data}: {named}"]
    try:
        names, types, rows = reader(data, str(manifest["encoding"]), manifest["columns"])
    except _ValueType as exc:
        return [f"{data}: columns: {exc}"]
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


def _named_batch(manifest: dict[str, Any]) -> str | None:
    """Whether file name and batch id are those of the subscription and versions stated."""
    try:
        subscription, start, end = (
            str(manifest["subscription"]), manifest["from_version"], int(manifest["to_version"])
        )  # fmt: skip
        settings = FileSettings(format=manifest["format"], encoding=manifest["encoding"])
    except (KeyError, TypeError, ValueError):
        return "batch_id: the manifest states no subscription and versions"
    batch = f"{subscription}@{'full' if start is None else start}-{end}"
    if manifest.get("batch_id") != batch:
        return (
            f"batch_id: {manifest.get('batch_id')!r}, its subscription and versions say {batch!r}"
        )
    expected = file_name(subscription, start, end, settings)
    if manifest["file"] != expected:
        return f"file: {manifest['file']!r}, its subscription and versions say {expected!r}"
    return None


Shape = tuple[list[str], list[str] | None, int]
Columns = list[dict[str, str]]


class _ValueType(ValueError):
    """A value that does not read as its column's stated type."""


def _arrow_type(text: str) -> pa.DataType | None:
    """The Arrow type a manifest names (``str(type)``), ``None`` when it names none."""
    if found := re.fullmatch(r"decimal(128|256)\((\d+), (-?\d+)\)", text):
        make = pa.decimal128 if found[1] == "128" else pa.decimal256
        return make(int(found[2]), int(found[3]))
    if found := re.fullmatch(r"timestamp\[(s|ms|us|ns)(?:, tz=(.+))?\]", text):
        return pa.timestamp(found[1], found[2])
    try:
        return pa.type_for_alias(text)
    except ValueError:
        return None


def _parquet(path: Path, encoding: str, columns: Columns) -> Shape:
    meta = pq.ParquetFile(path)
    schema = meta.schema_arrow
    return schema.names, [str(f.type) for f in schema], meta.metadata.num_rows


def _csv(path: Path, encoding: str, columns: Columns) -> Shape:
    with path.open(encoding=encoding, newline="") as lines:
        names = next(csv.reader(lines), [])
    # every value read as its stated type (never inferred: that may differ block to block)
    stated = {c.get("name"): _arrow_type(str(c.get("type"))) for c in columns}
    types = {n: stated.get(n) or pa.string() for n in names}
    convert = pacsv.ConvertOptions(column_types=types, strings_can_be_null=True)
    options = pacsv.ReadOptions(encoding=encoding, block_size=1 << 22)
    rows = 0
    try:
        with pacsv.open_csv(path, read_options=options, convert_options=convert) as reader:
            rows = sum(batch.num_rows for batch in reader)
    except pa.ArrowInvalid as exc:
        found = re.search(r"CSV column #(\d+): CSV conversion error to ([^:]+): (.*)", str(exc))
        if not found:
            raise
        column = names[int(found[1])]
        raise _ValueType(f"column {column} does not read as {found[2]}: {found[3]}") from None
    checked = all(stated.get(n) is not None for n in names)
    return names, [str(types[n]) for n in names] if checked else None, rows


def _jsonl(path: Path, encoding: str, columns: Columns) -> Shape:
    stated = {str(c.get("name")): str(c.get("type")) for c in columns}
    readers = {n: _json_value(t) for n, t in stated.items()}
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
            for name, value in record.items():
                read = readers.get(name)
                if value is not None and read is not None and not read(value):
                    raise _ValueType(
                        f"column {name} does not read as {stated[name]}: {value!r} (line {rows})"
                    )
    checked = all(readers.get(n) is not None for n in names)
    return names, [stated[n] for n in names] if checked else None, rows


def _json_value(type_name: str) -> Callable[[Any], bool] | None:
    """How a JSON value of the stated Arrow type is recognised (as the delivery writes it)."""
    kind = _arrow_type(type_name)
    if kind is None:
        return None
    if pa.types.is_integer(kind):
        return lambda v: isinstance(v, int) and not isinstance(v, bool)
    if pa.types.is_floating(kind):
        return lambda v: isinstance(v, int | float) and not isinstance(v, bool)
    if pa.types.is_boolean(kind):
        return lambda v: isinstance(v, bool)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return lambda v: isinstance(v, str)
    parsers: dict[Callable[[pa.DataType], bool], Callable[[str], object]] = {
        pa.types.is_decimal: Decimal,
        pa.types.is_date: date.fromisoformat,
        pa.types.is_timestamp: datetime.fromisoformat,
    }
    for matches, parse in parsers.items():
        if matches(kind):
            return partial(_parses, parse)
    return None


def _parses(parse: Callable[[str], object], value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parse(value)
    except (ValueError, ArithmeticError):
        return False
    return True


def _xlsx(path: Path, encoding: str, columns: Columns) -> Shape:
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


READERS: dict[str, Callable[[Path, str, Columns], Shape]] = {
    "parquet": _parquet,
    "csv": _csv,
    "jsonl": _jsonl,
    "xlsx": _xlsx,
}
