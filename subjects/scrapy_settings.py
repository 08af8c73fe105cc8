"""Scrapy settings of the subjects' crawls: govlake's crawl settings plus the subjects' spiders.

``SCRAPY_SETTINGS_MODULE=subjects.scrapy_settings scrapy check`` checks every hand-written
spider's contracts against a served site (``GOVLAKE_CRAWL_SITE``).
"""

from connectors.crawl.settings import *  # noqa: F403 (Scrapy settings extend by star import)

SPIDER_MODULES = ["subjects.penalty_notices.spider"]
NEWSPIDER_MODULE = "subjects.penalty_notices"
