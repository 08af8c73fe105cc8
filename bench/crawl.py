"""A crawl of a generated 10k-notice site on loopback: govlake's spider against a bare one.

The site is market regulation's penalty-notice site (``subjects.penalty_notices.site``): list
pages of ten notices chained by "下一页", one detail page per notice, served by a static web
server in its own process (not counted in either arm). Arms:
- ``govlake``: the crawl source's collection (``jobs.collect.ingest``): the hand-written
  ``PenaltyNoticesSpider`` with govlake's settings (robots.txt, AutoThrottle, four requests
  per site at a time), items spooled and committed to bronze in one Delta commit;
- ``bare``: a link-following Scrapy spider on Scrapy's defaults (no robots.txt, no throttle,
  eight requests per site) reading the decision number of each detail page, storing nothing
  but a Parquet file of the numbers to compare.
Both arms must find the same decision numbers.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import govlake_ingest
from bench.harness import serve_arm

ARMS = ["govlake", "bare"]
REFERENCE = "govlake"
IMPORTS = {
    "govlake": ["govlake.config", "jobs.collect.ingest", "jobs.collect.crawl"],
    "bare": ["scrapy", "scrapy.crawler"],
}
HASHED = ["decision_number"]
NUMBER_XPATH = "//th[text()='决定书文号']/following-sibling::td[1]//text()"


def title(params: dict[str, Any]) -> str:
    """The scenario's heading."""
    return f"Crawl of a local site of {params['notices']:,} notices (detail pages) -> bronze"


@contextmanager
def prepared(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The generated site, served on a free loopback port."""
    import random

    from apps.local_servers import WebServer
    from subjects.enterprise_registry.seed import make_uscc
    from subjects.penalty_notices.site import build_site, notices

    rng = random.Random(7)
    employers = [(make_uscc(rng), f"企业{i}有限公司") for i in range(2000)]
    with tempfile.TemporaryDirectory(prefix="govlake-bench-site-") as root:
        build_site(Path(root) / "site", notices(employers, params["notices"], seed=7))
        with WebServer.serving(Path(root) / "site", Path(root) / "web.log") as server:
            yield {**params, "site": server.url}


def arm_govlake(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The crawl source's collection into bronze, as govlake runs it."""
    os.environ["GOVLAKE_HOME"] = str(work / "home")
    source = (
        "name: site\nkind: crawl\ntitle: t\nowner: platform\nstreams:\n"
        f"  - name: rows\n    start_urls: ['{params['site']}/penalties/index.html']\n"
        "    allowed_domains: ['127.0.0.1']\n"
        "    spider: subjects.penalty_notices.spider:PenaltyNoticesSpider\n"
        f"    max_pages: {params['notices'] * 2}\n"
    )
    return govlake_ingest(work, source, "site")


def arm_bare(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """A bare link-following spider on Scrapy's default settings."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import scrapy
    from scrapy.crawler import CrawlerProcess

    numbers: list[str] = []

    class Bare(scrapy.Spider):
        name = "bare"
        start_urls = [f"{params['site']}/penalties/index.html"]  # noqa: RUF012

        def parse(self, response: Any) -> Iterator[Any]:
            for href in response.css("ul.notices a.notice::attr(href)").getall():
                yield response.follow(href, self.parse_item)
            for href in response.css("p.pager a.next::attr(href)").getall():
                yield response.follow(href, self.parse)

        def parse_item(self, response: Any) -> Iterator[dict[str, str]]:
            numbers.append(response.xpath(NUMBER_XPATH).get())
            yield {"decision_number": numbers[-1]}

    process = CrawlerProcess({"LOG_LEVEL": "WARNING"})
    process.crawl(Bare)
    process.start()
    output = work / "numbers.parquet"
    pq.write_table(pa.table({"decision_number": pa.array(numbers, pa.string())}), output)
    return {"output": str(output)}


if __name__ == "__main__":
    serve_arm({name: globals()[f"arm_{name}"] for name in ARMS}, IMPORTS)
