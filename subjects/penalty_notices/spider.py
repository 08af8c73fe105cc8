"""Administrative-penalty notices published by market regulation (list + detail pages)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

from connectors.crawl.spiders.declared import DeclaredSpider


class PenaltyNoticesSpider(DeclaredSpider):
    """Penalty notices: ten per list page, "下一页" to the next, one decision per detail page.

    The detail page is a two-column table; the fields are read by their row headings, so a
    redesign that keeps the headings keeps the spider working.
    """

    name = "penalty_notices"
    items = "ul.notices a.notice"
    follow = ("p.pager a.next",)
    fields = {  # noqa: RUF012
        "decision_number": "//th[text()='决定书文号']/following-sibling::td[1]//text()",
        "party": "//th[text()='当事人名称']/following-sibling::td[1]//text()",
        "uscc": "//th[text()='统一社会信用代码']/following-sibling::td[1]//text()",
        "violation": "//th[text()='违法行为类型']/following-sibling::td[1]//text()",
        "basis": "//th[text()='处罚依据']/following-sibling::td[1]//text()",
        "fine": "//th[text()='罚款金额']/following-sibling::td[1]//text()",
        "decided": "//th[text()='处罚决定日期']/following-sibling::td[1]//text()",
        "authority": "//th[text()='处罚机关']/following-sibling::td[1]//text()",
    }

    def parse(self, response: Response, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """A list page of notices.

        @site /penalties/index.html
        @returns requests 2 11
        @returns items 0 0
        """
        yield from super().parse(response, *args, **kwargs)

    def parse_item(self, response: Response) -> Iterator[dict[str, str | None]]:
        """One penalty decision.

        @site /penalties/latest.html
        @returns items 1 1
        @returns requests 0 0
        @scrapes decision_number party uscc violation fine decided authority _url
        """
        for item in super().parse_item(response):
            missing = [f for f in self.fields if f not in item]
            if missing:
                self.logger.warning("%s: no %s (page layout changed?)", response.url, missing)
            yield item
