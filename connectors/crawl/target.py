"""Where a crawl's items go: the bronze dataset, its run, and what is already there."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow.compute as pc

from connectors.crawl.spiders.declared import URL_FIELD
from govlake.config.loader import load_config
from govlake.config.project import ProjectConfig
from govlake.lakehouse import Lakehouse


@dataclass(frozen=True)
class Target:
    """A crawl's destination, passed to Scrapy as the ``GOVLAKE_TARGET`` setting."""

    conf_dir: str
    ref: str
    pipeline: str
    run_id: str
    result: str

    @classmethod
    def from_setting(cls, value: Any) -> Target | None:
        """The target in the settings, or ``None`` when the crawl writes nowhere."""
        return cls(**value) if value else None

    def config(self) -> ProjectConfig:
        """The project configuration the crawl runs under."""
        return load_config(Path(self.conf_dir))

    def seen_pages(self) -> set[str]:
        """Detail pages whose items are already in the bronze table, by :func:`page_key`."""
        lake = Lakehouse(self.config().lakehouse)
        if not lake.exists(self.ref):
            return set()
        urls = lake.dataset(self.ref).to_table(columns=[URL_FIELD]).column(URL_FIELD)
        return {page_key(url) for url in pc.unique(urls).to_pylist()}


def page_key(url: str) -> str:
    """A page's identity within its site: path and query, whatever host or port serves it."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path
