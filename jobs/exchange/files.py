"""Delivery files and their manifests, and the receiver's check of one against the other.

Each file goes with ``<file>.manifest.json``: the subscription and dataset, the version range,
rows, columns and types, byte size, SHA-256 (of the bytes as uploaded), batch id and production
time. The manifest is uploaded after the file, so a receiver that waits for manifests only ever
sees complete files, and ``govlake exchange verify`` (:mod:`jobs.exchange.receipt`) checks a
file against it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from govlake.config.exchange import FileSettings
from govlake.errors import GovlakeError

MANIFEST_SUFFIX = ".manifest.json"
EXCEL_MAX_ROWS = 1_048_575  # a sheet's rows, less the header


@dataclass(frozen=True)
class Manifest:
    """What a delivered file holds; written beside it as JSON."""

    file: str
    subscription: str
    dataset: str
    batch_id: str
    from_version: int | None
    to_version: int
    rows: int
    columns: list[dict[str, str]]
    format: str
    encoding: str
    bytes: int
    sha256: str
    produced_at: str
    grant: int | None = None
    """The share grant the delivery was made under (``None``: the owner's own data)."""
    masked: list[str] = field(default_factory=list)
    """The columns whose values are masked."""

    def to_json(self) -> str:
        """The manifest as indented JSON."""
        return json.dumps(asdict(self), ensure_ascii=False, indent=2) + "\n"


def file_name(
    subscription: str, from_version: int | None, to_version: int, settings: FileSettings
) -> str:
    """``<subscription>__v<to>`` for a whole table, ``__v<from+1>-v<to>`` for changes."""
    versions = f"v{to_version}" if from_version is None else f"v{from_version + 1}-v{to_version}"
    return f"{subscription}__{versions}.{settings.format}"


def write(reader: pa.RecordBatchReader, path: Path, settings: FileSettings) -> int:
    """Write the stream to ``path`` in the subscription's format; returns the rows written."""
    writers = {"csv": _csv, "jsonl": _jsonl, "parquet": _parquet, "xlsx": _xlsx}
    return writers[settings.format](reader, path, settings.encoding)


def _csv(reader: pa.RecordBatchReader, path: Path, encoding: str) -> int:
    rows = 0
    with path.open("wb") as out:
        if encoding == "utf-8":
            with pacsv.CSVWriter(out, reader.schema) as writer:
                for batch in reader:
                    writer.write_batch(batch)
                    rows += batch.num_rows
            return rows
        header = True
        for batch in reader:
            buffer = pa.BufferOutputStream()
            options = pacsv.WriteOptions(include_header=header)
            pacsv.write_csv(pa.Table.from_batches([batch], reader.schema), buffer, options)
            text = buffer.getvalue().to_pybytes().decode("utf-8")
            try:
                out.write(text.encode(encoding))
            except UnicodeEncodeError as exc:
                line = rows + text.count("\n", 0, exc.start) + (0 if header else 1)
                raise GovlakeError(
                    f"{path.name}: row {line}: {exc.object[exc.start : exc.end]!r} "
                    f"cannot be written in {encoding.upper()}"
                ) from None
            rows += batch.num_rows
            header = False
        if header:  # no rows: still a header
            out.write(",".join(f'"{n}"' for n in reader.schema.names).encode(encoding) + b"\n")
    return rows


def _jsonl(reader: pa.RecordBatchReader, path: Path, encoding: str) -> int:
    rows = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for batch in reader:
            for record in batch.to_pylist():
                out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            rows += batch.num_rows
    return rows


def _parquet(reader: pa.RecordBatchReader, path: Path, encoding: str) -> int:
    rows = 0
    with pq.ParquetWriter(path, reader.schema, compression="zstd") as writer:
        for batch in reader:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def _xlsx(reader: pa.RecordBatchReader, path: Path, encoding: str) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils.exceptions import IllegalCharacterError

    book = Workbook(write_only=True)
    sheet = book.create_sheet("data")
    sheet.append(reader.schema.names)

    def cell(value: Any) -> Any:
        """A text starting with ``=`` stays text: a shared value never becomes a formula."""
        if not (isinstance(value, str) and value.startswith("=")):
            return _excel_value(value)
        text = WriteOnlyCell(sheet, value=value)
        text.data_type = "s"
        return text

    rows = 0
    for batch in reader:
        rows += batch.num_rows
        if rows > EXCEL_MAX_ROWS:
            raise GovlakeError(
                f"{path.name}: {rows} rows or more do not fit an Excel sheet "
                f"({EXCEL_MAX_ROWS}); deliver csv or parquet"
            )
        for at, record in enumerate(batch.to_pylist(), start=rows - batch.num_rows + 1):
            try:
                sheet.append([cell(v) for v in record.values()])
            except IllegalCharacterError:
                raise GovlakeError(
                    f"{path.name}: row {at} holds a control character an Excel sheet cannot "
                    "keep; deliver csv or parquet"
                ) from None
    book.save(path)
    return rows


def _excel_value(value: Any) -> Any:
    """Values Excel keeps as they are; decimals as text so no digit is lost."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    if value is not None and type(value).__name__ == "Decimal":
        return str(value)
    return value


def manifest_for(
    name: str,
    *,
    rows: int,
    schema: pa.Schema,
    settings: FileSettings,
    subscription: str,
    dataset: str,
    batch_id: str,
    from_version: int | None,
    to_version: int,
    bytes: int,
    sha256: str,
    grant: int | None,
    masked: list[str],
) -> Manifest:
    """The manifest of file ``name``, with the size and SHA-256 of the bytes uploaded."""
    return Manifest(
        file=name,
        subscription=subscription,
        dataset=dataset,
        batch_id=batch_id,
        from_version=from_version,
        to_version=to_version,
        rows=rows,
        columns=[{"name": f.name, "type": str(f.type)} for f in schema],
        format=settings.format,
        encoding=settings.encoding if settings.format == "csv" else "utf-8",
        bytes=bytes,
        sha256=sha256,
        produced_at=datetime.now(UTC).isoformat(timespec="seconds"),
        grant=grant,
        masked=masked,
    )
