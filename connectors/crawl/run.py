"""Run one crawl in this process (Twisted's reactor runs once per process).

``python -m connectors.crawl.run JOB`` is what the collection task starts: ``JOB`` is a
:class:`~connectors.crawl.job.CrawlJob` file naming the stream, the user agent and the crawl's
files. The items are spooled and the outcome written as the job says; nothing else is stored.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from importlib import import_module
from pathlib import Path

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from connectors.crawl.job import CrawlJob
from connectors.crawl.spiders.declared import DeclaredSpider


def spider_class(path: str | None) -> type[DeclaredSpider]:
    """The hand-written spider ``module:Class``, or the declarative one."""
    if path is None:
        return DeclaredSpider
    module, _, name = path.partition(":")
    spider = getattr(import_module(module), name)
    if not (isinstance(spider, type) and issubclass(spider, DeclaredSpider)):
        raise TypeError(f"{path} is not a DeclaredSpider subclass")
    return spider


def crawl(job: CrawlJob) -> None:
    """Crawl the job's stream; blocks until the crawl ends."""
    stream = job.stream
    settings = Settings()
    settings.setmodule("connectors.crawl.settings", priority="project")
    settings.update(
        {
            "USER_AGENT": job.user_agent,
            "CLOSESPIDER_PAGECOUNT": stream.max_pages,
            "CLOSESPIDER_ITEMCOUNT": stream.max_items,
            "DOWNLOAD_DELAY": stream.download_delay,
            "GOVLAKE_TARGET": asdict(job.target),
        },
        priority="cmdline",
    )
    process = CrawlerProcess(settings)
    process.crawl(spider_class(stream.spider), stream=stream)
    process.start()


if __name__ == "__main__":
    crawl(CrawlJob.read(Path(sys.argv[1])))
