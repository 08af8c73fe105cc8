"""Progress of long row streams: rows, rate and, when the total is known, the time left.

Collection, derivation and delivery stream Arrow batches; :func:`tracked` wraps such a stream.
Short streams stay silent. One that lasts longer than ``GOVLAKE_PROGRESS_SECONDS`` (default 10)
reports: on a terminal a progress bar on stderr (rows, rows/s, time left), elsewhere (a pipe,
CI, an Airflow task log) a plain line on stderr at each interval and one at the end, e.g.
``progress: bronze.enterprise_registry: 1,200,000 rows, 85,310 rows/s, 14 s``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO

import pyarrow as pa
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

INTERVAL = "GOVLAKE_PROGRESS_SECONDS"


def tracked(
    batches: Iterable[pa.RecordBatch], label: str, total: int | None = None
) -> Iterator[pa.RecordBatch]:
    """``batches`` unchanged, reporting progress as :mod:`govlake.progress` describes."""
    meter = _Meter(label, total, float(os.environ.get(INTERVAL, "10")), sys.stderr)
    try:
        for batch in batches:
            meter.advance(batch.num_rows)
            yield batch
    finally:
        meter.close()


def line(label: str, rows: int, seconds: float, total: int | None) -> str:
    """One progress line: rows so far, rate, elapsed time, and the share and time left."""
    rate = rows / seconds if seconds > 0 else 0.0
    text = f"progress: {label}: {rows:,} rows"
    if total:
        left = (total - rows) / rate if rate else None
        text += f" of {total:,} ({100 * rows / total:.0f}%)"
        text += f", {left:.0f} s left" if left is not None else ""
    return f"{text}, {rate:,.0f} rows/s, {seconds:.0f} s"


class _Meter:
    """Counts rows; after ``interval`` seconds shows a bar (terminal) or writes lines."""

    def __init__(self, label: str, total: int | None, interval: float, out: TextIO) -> None:
        self.label, self.total, self.interval, self.out = label, total, interval, out
        self.rows = 0
        self.started = self.last = time.monotonic()
        self.reported = False
        self.bar: Progress | None = None

    def advance(self, rows: int) -> None:
        self.rows += rows
        now = time.monotonic()
        if self.bar is not None:
            self.bar.update(self.task, completed=self.rows)
        elif now - self.last >= self.interval:
            self.last = now
            if self.out.isatty():
                self._start_bar()
            else:
                self._write(now)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
        if self.reported or self.bar is not None:
            self._write(time.monotonic())

    def _write(self, now: float) -> None:
        self.reported = True
        self.out.write(line(self.label, self.rows, now - self.started, self.total) + "\n")
        self.out.flush()

    def _start_bar(self) -> None:
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn() if self.total else TextColumn("{task.completed:,} rows"),
            _Rate(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(file=self.out),
            transient=True,
        )
        self.task = self.bar.add_task(self.label, total=self.total, completed=self.rows)
        self.bar.start()


class _Rate(ProgressColumn):
    """Rows per second."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed or 0:,.0f} rows/s")
