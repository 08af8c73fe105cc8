"""Scrapy crawls of the penalty-notice site, served on loopback by a real web server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pandera.pandas as pandera
import pytest

from apps.local_servers import WebServer, free_port
from govlake.config.loader import load_config
from govlake.lakehouse import Lakehouse
from govlake.runtime import Runtime
from jobs.collect.crawl import CrawlError
from jobs.collect.drift import SchemaDriftError
from jobs.collect.ingest import ingest
from jobs.quality.contracts import ContractError
from subjects.penalty_notices import site as penalty_site
from subjects.social_insurance.seed import synthetic_employers
from tests.integration.crawl_spiders import DEATH_EXIT

pytestmark = pytest.mark.integration

EMPLOYERS = synthetic_employers(50, seed=5)

DECLARED = """\
name: penalties
kind: crawl
title: 行政处罚公示
owner: platform
streams:
  - name: rows
    start_urls: ["{site}/penalties/index.html"]
    allowed_domains: ["127.0.0.1"]
    follow: ["p.pager a"]
    items: "ul.notices a.notice"
    fields:
      number: "td.number::text"
      party: "td.party::text"
      uscc: "//th[text()='统一社会信用代码']/following-sibling::td[1]/text()"
      fine: "td.fine::text"
      decided: "td.decided::text"
"""

HAND_WRITTEN = """\
name: penalties
kind: crawl
title: 行政处罚公示
owner: platform
streams:
  - name: rows
    start_urls: ["{site}/penalties/index.html"]
    allowed_domains: ["127.0.0.1"]
    spider: subjects.penalty_notices.spider:PenaltyNoticesSpider
"""

DIGIT_FINES = pandera.DataFrameSchema(
    {"fine": pandera.Column(str, pandera.Check.str_matches(r"^[\d.,]+万?元$"))}
)
"""A contract of the bronze table: fines written in digits (the site also writes 伍仟元)."""


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[WebServer, Path]]:
    root = tmp_path / "site"
    penalty_site.build_site(root, penalty_site.notices(EMPLOYERS, 35, seed=9))
    with WebServer.serving(root, tmp_path / "web.log") as server:
        yield server, root


def crawl(conf: Path, run_id: str) -> list:  # noqa: ANN001
    return ingest(Runtime.load(conf), "bronze.penalties", pipeline="p", run_id=run_id)


def test_declared_spider_obeys_robots_and_crawls_incrementally(
    source_conf: Callable[..., Path], site: tuple[WebServer, Path]
) -> None:
    server, root = site
    conf = source_conf("penalties", DECLARED.format(site=server.url))
    [first] = crawl(conf, "r1")
    assert first.rows == 35
    lake = Lakehouse(load_config(conf).lakehouse)
    rows = {r["number"]: r for r in lake.read("bronze.penalties").to_pylist()}
    expected = {n.number: n for n in penalty_site.notices(EMPLOYERS, 35, seed=9)}
    assert rows.keys() == expected.keys()
    some = expected["市监处罚〔2024〕0007号"]
    got = rows[some.number]
    assert (got["party"], got["uscc"], got["fine"]) == (some.party, some.uscc, some.fine)
    assert got["decided"] == f"{some.decided.year}年{some.decided.month}月{some.decided.day}日"
    assert got["_url"] == f"{server.url}/{some.page}"
    log = (load_config(conf).home / "crawl" / "bronze.penalties" / "crawl.log").read_text()
    assert "'robotstxt/forbidden': 1" in log  # the /admin/ link, disallowed by robots.txt
    served = server.log.read_text()
    assert "GET /robots.txt" in served and "/admin/" not in served

    # Five new notices appear: only they are fetched and committed.
    penalty_site.build_site(root, penalty_site.notices(EMPLOYERS, 40, seed=9))
    [second] = crawl(conf, "r2")
    assert second.rows == 5
    assert lake.read("bronze.penalties").num_rows == 40
    [third] = crawl(conf, "r3")
    assert third.status == "no_rows"

    # The same site served from another port: nothing is collected twice.
    with WebServer.serving(root, server.log.with_name("moved.log")) as moved:
        conf = source_conf("penalties", DECLARED.format(site=moved.url))
        [fourth] = crawl(conf, "r4")
    assert fourth.status == "no_rows"
    assert lake.read("bronze.penalties").num_rows == 40


def test_hand_written_spider_collects_every_field(
    source_conf: Callable[..., Path], site: tuple[WebServer, Path]
) -> None:
    server, _ = site
    conf = source_conf("penalties", HAND_WRITTEN.format(site=server.url))
    [result] = crawl(conf, "r1")
    assert result.rows == 35
    table = Lakehouse(load_config(conf).lakehouse).read("bronze.penalties")
    assert all(v is not None for column in table.columns for v in column.to_pylist())
    assert set(table.column("authority").to_pylist()) == {"市市场监督管理局"}


def scrapy_check(site_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SCRAPY_SETTINGS_MODULE": "subjects.scrapy_settings",
        "GOVLAKE_CRAWL_SITE": site_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "check", "penalty_notices"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_spider_contracts_pass_against_the_site_and_catch_a_redesign(
    site: tuple[WebServer, Path],
) -> None:
    server, root = site
    done = scrapy_check(server.url)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Ran 5 contracts" in done.stderr and "OK" in done.stderr

    latest = root / "penalties" / "latest.html"
    latest.write_text(latest.read_text().replace("统一社会信用代码", "信用代码"))
    done = scrapy_check(server.url)
    assert done.returncode != 0
    assert "Missing fields: uscc" in done.stderr


def test_unreachable_site_is_a_clear_error(source_conf: Callable[..., Path]) -> None:
    conf = source_conf("penalties", DECLARED.format(site=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(CrawlError, match=r"source penalties stream rows: no page could be fetched"):
        crawl(conf, "r1")


def test_a_crawl_that_dies_commits_nothing_and_a_retried_run_commits_once(
    source_conf: Callable[..., Path], site: tuple[WebServer, Path]
) -> None:
    server, _ = site
    dying = HAND_WRITTEN.replace(
        "subjects.penalty_notices.spider:PenaltyNoticesSpider",
        "tests.integration.crawl_spiders:DyingSpider",
    )
    conf = source_conf("penalties", dying.format(site=server.url))
    with pytest.raises(CrawlError, match=rf"stream rows: crawl failed \(exit {DEATH_EXIT}\)"):
        crawl(conf, "r1")
    lake = Lakehouse(load_config(conf).lakehouse)
    assert not lake.exists("bronze.penalties")
    staging = load_config(conf).home / "staging" / "bronze.penalties"
    assert not list(staging.iterdir()), "the dead crawl's spool and job files are removed"

    conf = source_conf("penalties", HAND_WRITTEN.format(site=server.url))
    [first] = crawl(conf, "r1")
    assert (first.status, first.rows) == ("committed", 35)
    fetched = server.log.read_text().count("GET ")
    [retried] = crawl(conf, "r1")
    assert retried.status == "already_committed"
    assert server.log.read_text().count("GET ") == fetched, "a committed run crawls nothing"
    assert lake.read("bronze.penalties").num_rows == 35


def test_crawled_rows_are_held_to_the_dataset_contract(
    source_conf: Callable[..., Path], site: tuple[WebServer, Path]
) -> None:
    server, _ = site
    conf = source_conf("penalties", DECLARED.format(site=server.url))
    datasets = conf / "datasets" / "penalties.yaml"
    contract = "    contract: tests.integration.test_crawl:DIGIT_FINES\n"
    datasets.write_text(datasets.read_text() + contract)
    with pytest.raises(ContractError, match=r"source penalties stream rows: breaks contract .* "
                       r"column 'fine' row \d+: str_matches"):  # fmt: skip
        crawl(conf, "r1")
    assert not Lakehouse(load_config(conf).lakehouse).exists("bronze.penalties")


def test_crawled_columns_follow_the_source_drift_policy(
    source_conf: Callable[..., Path], site: tuple[WebServer, Path]
) -> None:
    server, root = site
    strict = DECLARED.replace("owner: platform\n", "owner: platform\nschema_drift: fail\n")
    without_fine = strict.replace('      fine: "td.fine::text"\n', "")
    conf = source_conf("penalties", without_fine.format(site=server.url))
    [first] = crawl(conf, "r1")
    assert first.rows == 35

    penalty_site.build_site(root, penalty_site.notices(EMPLOYERS, 40, seed=9))
    conf = source_conf("penalties", strict.format(site=server.url))
    with pytest.raises(SchemaDriftError, match=r"stream rows: schema drift: column 'fine' .* new"):
        crawl(conf, "r2")
    lake = Lakehouse(load_config(conf).lakehouse)
    assert lake.read("bronze.penalties").num_rows == 35
    assert "fine" not in lake.read("bronze.penalties").column_names
