"""Spiders for crawl tests, imported by the crawl process from the spider path in conf."""

from __future__ import annotations

import os
from collections.abc import Iterator

from scrapy.http import Response

from subjects.penalty_notices.spider import PenaltyNoticesSpider

DIES_AFTER = 10
DEATH_EXIT = 9


class DyingSpider(PenaltyNoticesSpider):
    """The penalty-notice spider, whose process is killed after ``DIES_AFTER`` items."""

    name = "dying_penalty_notices"
    parsed = 0

    def parse_item(self, response: Response) -> Iterator[dict[str, str | None]]:
        """Yield the detail page's item; die without a word once enough were yielded."""
        yield from super().parse_item(response)
        DyingSpider.parsed += 1
        if DyingSpider.parsed >= DIES_AFTER:
            os._exit(DEATH_EXIT)
