"""Incremental crawling: detail pages already collected are not fetched again."""

from __future__ import annotations

from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest

from connectors.crawl.spiders.declared import ITEM_PAGE
from connectors.crawl.target import Target, page_key


class SkipSeenPages:
    """Drops requests for item pages already collected (the target's ``seen`` pages).

    List pages are always fetched (they change); only pages flagged ``govlake_item_page``
    are skipped. Pages are matched by path and query, so a site served from a new host or
    port is not collected twice. The seen set is read once, when the spider opens.
    """

    def __init__(self, crawler: Crawler) -> None:
        """Bind to the crawler's stats and target."""
        self.stats = crawler.stats
        self.target = Target.from_setting(crawler.settings.getdict("GOVLAKE_TARGET"))
        self.seen: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SkipSeenPages:
        """Scrapy's factory hook."""
        middleware = cls(crawler)
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        return middleware

    def spider_opened(self, spider: Spider) -> None:
        """Read the already-collected detail URLs."""
        if self.target is not None:
            self.seen = self.target.seen_pages()
            spider.logger.info("%d detail page(s) already collected", len(self.seen))

    def process_request(self, request: Request, spider: Spider) -> Any:
        """Ignore an item page already collected; let everything else through."""
        if request.meta.get(ITEM_PAGE) and page_key(request.url) in self.seen:
            assert self.stats is not None
            self.stats.inc_value("govlake/seen_skipped")
            raise IgnoreRequest(f"already collected: {request.url}")
        return None
