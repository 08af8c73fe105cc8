"""Scrapy settings for every govlake crawl: polite by default (robots.txt, AutoThrottle)."""

BOT_NAME = "govlake"
SPIDER_MODULES = ["connectors.crawl.spiders"]  # hand-written ones: subjects.scrapy_settings
NEWSPIDER_MODULE = "connectors.crawl.spiders"

ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.25
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
CONCURRENT_REQUESTS_PER_DOMAIN = 4
RETRY_TIMES = 3
DOWNLOAD_TIMEOUT = 60

TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"

DOWNLOADER_MIDDLEWARES = {"connectors.crawl.middlewares.SkipSeenPages": 50}
ITEM_PIPELINES = {"connectors.crawl.pipelines.SpoolWriter": 300}
SPIDER_CONTRACTS = {"connectors.crawl.contracts.SiteContract": 5}

# The crawl's files (spool, result, seen pages): set by connectors.crawl.run; unset (e.g.
# `scrapy check`) stores nothing.
GOVLAKE_TARGET: dict[str, str] = {}
