"""Where a crawl's items go and which pages it skips, as plain files the calling task names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

URL_FIELD = "_url"
"""The item field holding the detail page's URL."""


@dataclass(frozen=True)
class Target:
    """A crawl's files, passed to Scrapy as the ``GOVLAKE_TARGET`` setting.

    Attributes:
        spool: The Arrow IPC stream file the items are written to.
        result: The JSON file of the crawl's outcome, written last.
        seen: Page keys (see :func:`page_key`) already collected, one a line.
    """

    spool: str
    result: str
    seen: str

    @classmethod
    def from_setting(cls, value: Any) -> Target | None:
        """The target in the settings, or ``None`` when the crawl stores nothing."""
        return cls(**value) if value else None

    def seen_pages(self) -> set[str]:
        """The page keys already collected."""
        return set(Path(self.seen).read_text(encoding="utf-8").splitlines())


def page_key(url: str) -> str:
    """A page's identity within its site: path and query, whatever host or port serves it."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path
