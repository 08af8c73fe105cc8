"""The item pipeline that lands a crawl in bronze, in one Delta commit at the end of the run.

Items are spooled to a local Arrow IPC file as they come (memory stays bounded), then written
to the target table in one commit whose batch id is the run's: a crawl that dies leaves
nothing, and a re-run skips the pages already committed (see ``middlewares``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from connectors.crawl.spiders.declared import URL_FIELD
from connectors.crawl.target import Target
from govlake.lakehouse import Commit, Lakehouse

SPOOL_ROWS = 1_000


class BronzeWriter:
    """Spools items, then commits them to the target table when the spider closes."""

    def __init__(self, crawler: Crawler, target: Target) -> None:
        """Bind to the crawl's target; the spool lives beside the result file."""
        self.crawler = crawler
        self.target = target
        self.spool_path = Path(target.result).with_suffix(".arrow")
        self.pending: list[dict[str, Any]] = []
        self.schema: pa.Schema | None = None
        self.writer: pa.ipc.RecordBatchStreamWriter | None = None
        self.items = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BronzeWriter:
        """Scrapy's factory hook; disabled when no target is set (e.g. ``scrapy check``)."""
        target = Target.from_setting(crawler.settings.getdict("GOVLAKE_TARGET"))
        if target is None:
            raise NotConfigured("no GOVLAKE_TARGET: items are not stored")
        return cls(crawler, target)

    def open_spider(self, spider: Spider) -> None:
        """Fix the item schema from the spider's fields: all text, plus the page URL."""
        names = [*getattr(spider, "fields", {}), URL_FIELD]
        self.schema = pa.schema([pa.field(n, pa.string()) for n in names])
        self.spool_path.unlink(missing_ok=True)
        self.writer = pa.ipc.new_stream(self.spool_path, self.schema)

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
        """Commit the spooled items in one write and leave a result for the calling task."""
        self._flush()
        assert self.writer is not None
        self.writer.close()
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        result: dict[str, Any] = {
            "items": self.items,
            "pages": stats.get("response_received_count", 0),
            "errors": stats.get("downloader/exception_count", 0) + stats.get("log_count/ERROR", 0),
            "skipped_seen": stats.get("govlake/seen_skipped", 0),
            "robots_forbidden": stats.get("robotstxt/forbidden", 0),
            "finish_reason": stats.get("finish_reason", ""),
        }
        config = self.target.config()
        lake = Lakehouse(config.lakehouse)
        dataset = config.dataset(self.target.ref)
        assert dataset.collect is not None
        commit = Commit(
            pipeline=self.target.pipeline,
            run_id=self.target.run_id,
            batch_id=f"{self.target.ref}@{self.target.run_id}",
            source=f"{dataset.collect.source}.{dataset.collect.stream}",
        )
        with pa.memory_map(str(self.spool_path)) as spool:
            written = lake.write(
                self.target.ref, pa.ipc.open_stream(spool), commit, mode=dataset.write,
                keys=dataset.keys, partition_by=dataset.partition_by,
            )  # fmt: skip
        self.spool_path.unlink()
        result.update(rows=written.rows, version=written.version, status=written.status)
        Path(self.target.result).write_text(json.dumps(result))
