"""Run one crawl stream into its bronze dataset, in this process (one crawl per process).

``python -m connectors.crawl.run CONF_DIR REF PIPELINE RUN_ID RESULT`` is what the collection
task starts; the result (items, pages, rows committed...) is written as JSON to ``RESULT``.
"""

from __future__ import annotations

import sys
from importlib import import_module
from pathlib import Path

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from connectors.crawl.spiders.declared import DeclaredSpider
from connectors.crawl.target import Target
from govlake.config.models import CrawlSource, declared


def spider_class(path: str | None) -> type[DeclaredSpider]:
    """The hand-written spider ``module:Class``, or the declarative one."""
    if path is None:
        return DeclaredSpider
    module, _, name = path.partition(":")
    spider = getattr(import_module(module), name)
    if not (isinstance(spider, type) and issubclass(spider, DeclaredSpider)):
        raise TypeError(f"{path} is not a DeclaredSpider subclass")
    return spider


def crawl(target: Target) -> None:
    """Crawl the stream bound to ``target.ref``; blocks until the crawl ends."""
    config = target.config()
    dataset = config.dataset(target.ref)
    assert dataset.collect is not None
    source = config.sources[dataset.collect.source]
    assert isinstance(source, CrawlSource)
    stream = declared(source.stream(dataset.collect.stream), source.name, dataset.collect.stream)
    settings = Settings()
    settings.setmodule("connectors.crawl.settings", priority="project")
    settings.update(
        {
            "USER_AGENT": source.user_agent,
            "CLOSESPIDER_PAGECOUNT": stream.max_pages,
            "CLOSESPIDER_ITEMCOUNT": stream.max_items,
            "DOWNLOAD_DELAY": stream.download_delay,
            "GOVLAKE_TARGET": vars(target),
        },
        priority="cmdline",
    )
    process = CrawlerProcess(settings)
    process.crawl(spider_class(stream.spider), stream=stream)
    process.start()


if __name__ == "__main__":
    conf_dir, ref, pipeline, run_id, result = sys.argv[1:6]
    crawl(Target(str(Path(conf_dir).resolve()), ref, pipeline, run_id, result))
