"""File formats read as Arrow record batches: CSV, JSON Lines, JSON, Excel and Parquet.

Every format is read twice. :meth:`FileReader.malformed` walks the file and yields the rows that
cannot be loaded (with line and reason), so they can be quarantined before the good rows are
committed; :meth:`FileReader.rows` then streams the good rows. Text formats keep every value as
text (bronze holds what was collected; silver types it); Parquet keeps its own types. A problem
with the file as a whole (undecodable bytes, a bad header) raises :class:`FileFormatError` naming
the file, and nothing is loaded.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
from charset_normalizer import from_bytes

from govlake.config.models import FileStream
from govlake.errors import GovlakeError

FILE_COLUMN = "_file"
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field(FILE_COLUMN, pa.string()),
        pa.field("_line", pa.int64()),
        pa.field("_reason", pa.string()),
        pa.field("_raw", pa.string()),
    ]
)
SAMPLE_BYTES = 1 << 20
CHINESE_LEGACY = {"gbk", "gb2312", "gb18030", "hz", "cp936"}


class FileFormatError(GovlakeError):
    """A file that cannot be read as declared; nothing of it is loaded."""


@dataclass(frozen=True)
class Malformed:
    """A row that cannot be loaded, and why."""

    line: int | None
    reason: str
    raw: str


def detect_encoding(path: Path) -> str:
    """The text encoding of ``path``: a BOM, valid UTF-8, else charset-normalizer's guess.

    Chinese legacy encodings are widened to GB18030, the superset of GB2312 and GBK.
    """
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = from_bytes(sample).best()
    if best is None:
        raise FileFormatError(f"{path.name}: cannot tell the text encoding; declare 'encoding'")
    encoding = codecs.lookup(best.encoding).name
    return "gb18030" if encoding in CHINESE_LEGACY else encoding


class FileReader:
    """One downloaded file of a stream, read in batches of ``stream.batch_rows``."""

    def __init__(self, path: Path, stream: FileStream, *, name: str | None = None) -> None:
        """Read ``path``; ``name`` is the file's name at the source (for ``_file`` and errors)."""
        self.path = path
        self.stream = stream
        self.name = name or path.name
        self._encoding: str | None = None
        self._columns: list[str] | None = None

    @property
    def encoding(self) -> str:
        """The declared encoding, or the detected one."""
        if self._encoding is None:
            declared = self.stream.encoding
            self._encoding = detect_encoding(self.path) if declared == "auto" else declared
        return self._encoding

    def malformed(self) -> Iterator[Malformed]:
        """The rows that cannot be loaded; raises :class:`FileFormatError` for a bad file."""
        bad: list[Malformed] = []
        for _ in self._batches(bad.append):
            yield from bad
            bad.clear()
        yield from bad

    def malformed_batches(self) -> pa.RecordBatchReader:
        """:meth:`malformed` as quarantine record batches."""

        def batches() -> Iterator[pa.RecordBatch]:
            for chunk in _chunks(self.malformed(), self.stream.batch_rows):
                yield pa.RecordBatch.from_pylist(
                    [
                        {
                            FILE_COLUMN: self.name,
                            "_line": m.line,
                            "_reason": m.reason,
                            "_raw": m.raw,
                        }
                        for m in chunk
                    ],
                    schema=QUARANTINE_SCHEMA,
                )

        return pa.RecordBatchReader.from_batches(QUARANTINE_SCHEMA, batches())

    def rows(self) -> pa.RecordBatchReader:
        """The loadable rows, each with the file's name in ``_file``."""
        if self.stream.format in {"json", "jsonl"} and not (self._columns or self.stream.columns):
            for _ in self.malformed():  # learn the columns first so every batch has them all
                pass
        batches = self._batches(lambda _: None)
        first = next(batches, None)
        if first is None:
            schema = self._schema()
            return pa.RecordBatchReader.from_batches(schema, iter(()))
        return pa.RecordBatchReader.from_batches(first.schema, _prepend(first, batches))

    # -- per format --------------------------------------------------------------------------

    def _batches(self, on_bad: Callable[[Malformed], None]) -> Iterator[pa.RecordBatch]:
        readers = {
            "csv": self._csv,
            "jsonl": self._json_lines,
            "json": self._json_document,
            "xlsx": self._excel,
            "parquet": self._parquet,
        }
        try:
            for batch in readers[self.stream.format](on_bad):
                yield _with_file(batch, self.name)
        except UnicodeDecodeError as exc:
            raise FileFormatError(
                f"{self.name}: cannot decode as {self.encoding} at byte {exc.start}: {exc.reason}"
            ) from None
        except FileFormatError:
            raise
        except (pa.ArrowInvalid, OSError, ValueError) as exc:
            message = f"{self.name}: not a readable {self.stream.format} file: {exc}"
            raise FileFormatError(message) from None

    def _schema(self) -> pa.Schema:
        if self.stream.format == "parquet":
            return _with_file_schema(pq.read_schema(self.path))
        return _with_file_schema(_text_schema(self._columns or self.stream.columns or []))

    def _check_header(self, columns: list[str]) -> list[str]:
        blank = [i + 1 for i, c in enumerate(columns) if not c.strip()]
        if blank:
            raise FileFormatError(f"{self.name}: header has unnamed column(s) at {blank}")
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        if dupes:
            raise FileFormatError(f"{self.name}: header repeats column(s) {dupes}")
        expected = self.stream.columns
        if expected is not None and columns != expected:
            missing = [c for c in expected if c not in columns]
            extra = [c for c in columns if c not in expected]
            raise FileFormatError(
                f"{self.name}: header does not match the declared columns "
                f"(missing {missing}, unexpected {extra})"
            )
        self._columns = columns
        return columns

    def _csv(self, on_bad: Callable[[Malformed], None]) -> Iterator[pa.RecordBatch]:
        header = self._csv_header()
        columns = self._check_header(header)

        def invalid(row: Any) -> str:
            reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
            on_bad(Malformed(row.number, reason, row.text))
            return "skip"

        reader = pcsv.open_csv(
            self.path,
            read_options=pcsv.ReadOptions(
                encoding=self.encoding,
                use_threads=False,
                column_names=columns,
                skip_rows=1,
                block_size=4 << 20,
            ),
            parse_options=pcsv.ParseOptions(
                delimiter=self.stream.delimiter, invalid_row_handler=invalid
            ),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(columns, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        yield from _rebatch(reader, self.stream.batch_rows)

    def _csv_header(self) -> list[str]:
        with self.path.open(encoding=self.encoding, newline="") as handle:
            first = next(csv.reader(handle, delimiter=self.stream.delimiter), None)
        if first is None:
            raise FileFormatError(f"{self.name}: empty file, no header")
        return first

    def _json_lines(self, on_bad: Callable[[Malformed], None]) -> Iterator[pa.RecordBatch]:
        def records() -> Iterator[tuple[int, str, Any]]:
            with self.path.open(encoding=self.encoding) as handle:
                for number, line in enumerate(handle, start=1):
                    if line.strip():
                        yield number, line, _loads(line)

        yield from self._json_records(records(), on_bad)

    def _json_document(self, on_bad: Callable[[Malformed], None]) -> Iterator[pa.RecordBatch]:
        with self.path.open(encoding=self.encoding) as handle:
            try:
                document = json.load(handle)
            except json.JSONDecodeError as exc:
                raise FileFormatError(f"{self.name}: not valid JSON: {exc}") from None
        if not isinstance(document, list):
            raise FileFormatError(f"{self.name}: expected a JSON array of objects")
        items = ((None, json.dumps(item, ensure_ascii=False), item) for item in document)
        yield from self._json_records(items, on_bad)

    def _json_records(
        self,
        records: Iterable[tuple[int | None, str, Any]],
        on_bad: Callable[[Malformed], None],
    ) -> Iterator[pa.RecordBatch]:
        columns = self._columns or self.stream.columns
        good: list[dict[str, str | None]] = []
        seen: dict[str, None] = {}
        for number, raw, value in records:
            if isinstance(value, _NotJson):
                on_bad(Malformed(number, f"not valid JSON: {value.reason}", raw.rstrip("\n")))
                continue
            if not isinstance(value, dict):
                on_bad(Malformed(number, "not a JSON object", raw.rstrip("\n")))
                continue
            unexpected = [k for k in value if columns is not None and k not in columns]
            if unexpected:
                on_bad(Malformed(number, f"unexpected field(s) {unexpected}", raw.rstrip("\n")))
                continue
            seen.update(dict.fromkeys(value))
            good.append({k: _as_text(v) for k, v in value.items()})
            if len(good) >= self.stream.batch_rows:
                yield _text_batch(good, columns or list(seen))
                good = []
        if columns is None:
            self._columns = list(seen)  # the first pass learns the columns for the second
        if good:
            yield _text_batch(good, columns or list(seen))

    def _excel(self, on_bad: Callable[[Malformed], None]) -> Iterator[pa.RecordBatch]:
        from openpyxl import load_workbook

        book = load_workbook(self.path, read_only=True, data_only=True)
        try:
            sheet = book[self.stream.sheet] if self.stream.sheet else book.worksheets[0]
        except KeyError:
            raise FileFormatError(f"{self.name}: no sheet {self.stream.sheet!r}") from None
        try:
            rows = sheet.iter_rows(values_only=True)
            header = next(rows, None)
            if header is None:
                raise FileFormatError(f"{self.name}: empty sheet, no header")
            while header and header[-1] is None:
                header = header[:-1]
            columns = self._check_header([_as_text(c) or "" for c in header])
            good: list[dict[str, str | None]] = []
            for number, row in enumerate(rows, start=2):
                values = list(row)
                while len(values) > len(columns) and values[-1] is None:
                    values.pop()
                if all(v is None for v in values):
                    continue
                if len(values) > len(columns):
                    raw = json.dumps([_as_text(v) for v in values], ensure_ascii=False)
                    reason = f"expected {len(columns)} cells, found {len(values)}"
                    on_bad(Malformed(number, reason, raw))
                    continue
                good.append(dict(zip(columns, map(_as_text, values), strict=False)))
                if len(good) >= self.stream.batch_rows:
                    yield _text_batch(good, columns)
                    good = []
            if good:
                yield _text_batch(good, columns)
        finally:
            book.close()

    def _parquet(self, on_bad: Callable[[Malformed], None]) -> Iterator[pa.RecordBatch]:
        source = pq.ParquetFile(self.path)
        if self.stream.columns is not None:
            self._check_header(source.schema_arrow.names)
        yield from source.iter_batches(batch_size=self.stream.batch_rows)


class _NotJson:
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _loads(line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        return _NotJson(str(exc))


def _as_text(value: Any) -> str | None:
    """A cell or JSON value as text: dates in ISO form, whole floats without '.0'."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _text_schema(columns: list[str]) -> pa.Schema:
    return pa.schema([pa.field(c, pa.string()) for c in columns])


def _text_batch(rows: list[dict[str, str | None]], columns: list[str]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(rows, schema=_text_schema(columns))


def _with_file_schema(schema: pa.Schema) -> pa.Schema:
    return schema.append(pa.field(FILE_COLUMN, pa.string()))


def _with_file(batch: pa.RecordBatch, name: str) -> pa.RecordBatch:
    names = pa.array([name] * batch.num_rows, pa.string())
    return batch.append_column(pa.field(FILE_COLUMN, pa.string()), names)


def _rebatch(reader: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """Batches of about ``rows`` rows from a reader whose block sizes are in bytes."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in reader:
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield from pa.Table.from_batches(pending).combine_chunks().to_batches()
            pending, count = [], 0
    if count:
        yield from pa.Table.from_batches(pending).combine_chunks().to_batches()


def _chunks(items: Iterable[Malformed], size: int) -> Iterator[list[Malformed]]:
    chunk: list[Malformed] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _prepend(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    for batch in rest:
        yield batch.cast(first.schema) if batch.schema != first.schema else batch
