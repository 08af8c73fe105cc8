"""The item pipeline that spools a crawl's items, for the calling task to commit.

Items are written to an Arrow IPC stream file as they come (memory stays bounded); when the
spider closes, the spool is complete and the crawl's outcome is written beside it, last. The
crawl itself stores nothing anywhere else: the task commits the spool only once the outcome is
there, so a crawl that dies commits nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from connectors.crawl.job import CrawlOutcome
from connectors.crawl.target import URL_FIELD, Target

SPOOL_ROWS = 1_000


class SpoolWriter:
    """Spools items to the target's spool file; reports the crawl when the spider closes."""

    def __init__(self, crawler: Crawler, target: Target) -> None:
        """Bind to the crawl's stats and target."""
        self.crawler = crawler
        self.target = target
        self.pending: list[dict[str, Any]] = []
        self.schema: pa.Schema | None = None
        self.writer: pa.ipc.RecordBatchStreamWriter | None = None
        self.items = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SpoolWriter:
        """Scrapy's factory hook; disabled when no target is set (e.g. ``scrapy check``)."""
        target = Target.from_setting(crawler.settings.getdict("GOVLAKE_TARGET"))
        if target is None:
            raise NotConfigured("no GOVLAKE_TARGET: items are not stored")
        return cls(crawler, target)

    def open_spider(self, spider: Spider) -> None:
        """Fix the item schema from the spider's fields: all text, plus the page URL."""
        names = [*getattr(spider, "fields", {}), URL_FIELD]
        self.schema = pa.schema([pa.field(n, pa.string()) for n in names])
        self.writer = pa.ipc.new_stream(self.target.spool, self.schema)

    def process_item(self, item: Any, spider: Spider) -> Any:
        """Buffer the item; flush to the spool every ``SPOOL_ROWS`` items."""
        self.pending.append(dict(item))
        self.items += 1
        if len(self.pending) >= SPOOL_ROWS:
            self._flush()
        return item

    def _flush(self) -> None:
        assert self.writer is not None
        assert self.schema is not None
        if self.pending:
            self.writer.write_batch(pa.RecordBatch.from_pylist(self.pending, schema=self.schema))
            self.pending = []

    def close_spider(self, spider: Spider) -> None:
        """Complete the spool, then write the crawl's outcome."""
        self._flush()
        assert self.writer is not None
        self.writer.close()
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        CrawlOutcome(
            items=self.items,
            pages=stats.get("response_received_count", 0),
            errors=stats.get("downloader/exception_count", 0) + stats.get("log_count/ERROR", 0),
            skipped_seen=stats.get("govlake/seen_skipped", 0),
            robots_forbidden=stats.get("robotstxt/forbidden", 0),
            finish_reason=stats.get("finish_reason", ""),
        ).write(Path(self.target.result))
