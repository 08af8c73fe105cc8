"""A Scrapy project: crawl websites into a spool file (settings, spiders, middlewares, pipelines).

Run a crawl with :func:`connectors.crawl.run.crawl` in a process of its own (Twisted's reactor
cannot restart), given a :class:`connectors.crawl.job.CrawlJob`; the calling task commits the
spool. Check the spiders' contracts with
``SCRAPY_SETTINGS_MODULE=subjects.scrapy_settings scrapy check`` against a served site.
"""
