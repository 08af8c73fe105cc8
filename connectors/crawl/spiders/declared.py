"""The spider a crawl stream declares in conf: list pages, links to follow, fields to read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response, TextResponse

from connectors.crawl.target import URL_FIELD
from govlake.config.models import CrawlStream

ITEM_PAGE = "govlake_item_page"
"""Request meta flag: the page yields an item (so it can be skipped once seen)."""


def is_xpath(selector: str) -> bool:
    """XPath selectors start with ``/`` or ``(``; anything else is CSS."""
    return selector.startswith(("/", "("))


def _text(values: list[str]) -> str | None:
    text = " ".join(" ".join(v.split()) for v in values if v and v.strip())
    return text or None


class DeclaredSpider(scrapy.Spider):
    """Follows ``follow`` links through list pages and parses each ``items`` link's page."""

    name = "declared"
    items: str | None = None
    follow: tuple[str, ...] = ()
    fields: dict[str, str] = {}  # noqa: RUF012 - replaced per instance, never mutated

    def __init__(self, stream: CrawlStream | None = None, **kwargs: Any) -> None:
        """Take start URLs, domains and selectors from the stream (class defaults otherwise)."""
        super().__init__(**kwargs)
        if stream is not None:
            self.start_urls = list(stream.start_urls)
            self.allowed_domains = list(stream.allowed_domains)
            self.items = stream.items or self.items
            self.follow = tuple(stream.follow) or self.follow
            self.fields = dict(stream.fields) or self.fields

    async def start(self) -> AsyncIterator[scrapy.Request]:
        """The start URLs, parsed as list pages."""
        for url in self.start_urls:
            yield scrapy.Request(url, callback=self.parse)

    def _links(self, response: Response, selector: str, **kwargs: Any) -> Iterator[Any]:
        if not isinstance(response, TextResponse):
            return  # not a page with links (a PDF, an image)
        if is_xpath(selector):
            yield from response.follow_all(xpath=selector, **kwargs)
        else:
            yield from response.follow_all(css=selector, **kwargs)

    def parse(self, response: Response, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """A list page: its item links, then the next list pages."""
        if self.items:
            yield from self._links(
                response, self.items, callback=self.parse_item, meta={ITEM_PAGE: True}
            )
        for selector in self.follow:
            yield from self._links(response, selector, callback=self.parse)

    def parse_item(self, response: Response) -> Iterator[dict[str, str | None]]:
        """A detail page: one item with the declared fields found (whitespace collapsed)."""
        if not isinstance(response, TextResponse):
            return
        item: dict[str, str | None] = {}
        for field, selector in self.fields.items():
            found = response.xpath(selector) if is_xpath(selector) else response.css(selector)
            text = _text(found.getall())
            if text is not None:  # a missing field is absent (stored as null), so contracts see it
                item[field] = text
        item[URL_FIELD] = response.url
        yield item
