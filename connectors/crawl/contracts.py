"""Spider contracts for sites whose address is only known at run time.

``@site /path/page.html`` requests ``$GOVLAKE_CRAWL_SITE/path/page.html``, so a contract can be
checked against the site wherever it is served (``GOVLAKE_CRAWL_SITE=http://127.0.0.1:8000``).
"""

from __future__ import annotations

import os
from typing import Any

from scrapy.contracts import Contract

SITE_ENV = "GOVLAKE_CRAWL_SITE"


class SiteContract(Contract):
    """``@site PATH``: the request URL is the served site's base plus ``PATH``."""

    name = "site"

    def adjust_request_args(self, args: dict[str, Any]) -> dict[str, Any]:
        """Point the contract's request at the served site."""
        base = os.environ.get(SITE_ENV)
        if not base:
            raise ValueError(f"set {SITE_ENV} to the base URL of the site under check")
        args["url"] = base.rstrip("/") + "/" + self.args[0].lstrip("/")
        return args
