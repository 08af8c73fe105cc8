"""Market regulation's public website of administrative-penalty notices, as static HTML.

``build_site`` writes what a county bureau's site looks like: ``robots.txt`` (which keeps
crawlers out of ``/admin/``), list pages of ten notices with "下一页" pagination, and one detail
page per notice (the newest also as ``latest.html``) holding the decision number, the party
and its credit code, the violation, the fine (``5万元``, ``伍仟元``, ``12,000元``) and the
decision date in Chinese form. Serve the folder with any static web server.
"""

from __future__ import annotations

import html
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

VIOLATIONS = [
    ("虚假宣传", "《中华人民共和国反不正当竞争法》第八条"),
    ("未按规定公示年度报告", "《企业信息公示暂行条例》第八条"),
    ("销售不合格产品", "《中华人民共和国产品质量法》第四十九条"),
    ("无照经营", "《无证无照经营查处办法》第十三条"),
    ("价格违法", "《中华人民共和国价格法》第十四条"),
]
FINES = ["5万元", "伍仟元", "12,000元", "二万元", "3000元", "1.5万元"]
PER_PAGE = 10


@dataclass(frozen=True)
class Notice:
    """One penalty decision as published."""

    number: str
    party: str
    uscc: str
    violation: str
    basis: str
    fine: str
    decided: date
    authority: str

    @property
    def page(self) -> str:
        """The detail page's path under the site root."""
        return f"penalties/notice-{self.decided:%Y%m%d}-{self.serial}.html"

    @property
    def serial(self) -> str:
        """The decision's serial number, as printed after the year."""
        return self.number.rsplit("〕", 1)[1].rstrip("号")


def notices(employers: list[tuple[str, str]], count: int, seed: int) -> list[Notice]:
    """``count`` notices against a sample of ``employers`` (credit code, name)."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        code, name = rng.choice(employers)
        violation, basis = rng.choice(VIOLATIONS)
        decided = date(2024, 1, 2) + timedelta(days=rng.randint(0, 300))
        out.append(
            Notice(
                number=f"市监处罚〔{decided.year}〕{i + 1:04d}号",
                party=name,
                uscc=code,
                violation=violation,
                basis=basis,
                fine=rng.choice(FINES),
                decided=decided,
                authority="市市场监督管理局",
            )
        )
    return out


PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1>
{body}
</body></html>
"""

DETAIL = """<table class="notice">
<tr><th>决定书文号</th><td class="number">{number}</td></tr>
<tr><th>当事人名称</th><td class="party">{party}</td></tr>
<tr><th>统一社会信用代码</th><td class="uscc">{uscc}</td></tr>
<tr><th>违法行为类型</th><td class="violation">{violation}</td></tr>
<tr><th>处罚依据</th><td class="basis">{basis}</td></tr>
<tr><th>罚款金额</th><td class="fine">{fine}</td></tr>
<tr><th>处罚决定日期</th><td class="decided">{decided}</td></tr>
<tr><th>处罚机关</th><td class="authority">{authority}</td></tr>
</table>
<p><a href="index.html">返回列表</a></p>"""


def _list_name(page: int) -> str:
    return "index.html" if page == 1 else f"list_{page}.html"


def build_site(root: Path, items: list[Notice]) -> Path:
    """Write the site under ``root``; returns the first list page."""
    folder = root / "penalties"
    folder.mkdir(parents=True, exist_ok=True)
    (root / "admin").mkdir(exist_ok=True)
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /admin/\n", encoding="utf-8")
    (root / "admin" / "index.html").write_text(
        PAGE.format(title="内部管理", body="<p>内部页面</p>"), encoding="utf-8"
    )
    newest_first = sorted(items, key=lambda n: (n.decided, n.number), reverse=True)
    pages = max(1, -(-len(newest_first) // PER_PAGE))
    for page in range(1, pages + 1):
        chunk = newest_first[(page - 1) * PER_PAGE : page * PER_PAGE]
        links = "\n".join(
            f'<li><a class="notice" href="{n.page.split("/", 1)[1]}">'
            f"{html.escape(n.party)}行政处罚决定书</a> <span>{n.decided:%Y-%m-%d}</span></li>"
            for n in chunk
        )
        nav = (
            '<a href="/admin/index.html">管理入口</a> <a class="latest" href="latest.html">最新</a>'
        )
        if page < pages:
            nav += f' <a class="next" href="{_list_name(page + 1)}">下一页</a>'
        body = f'<ul class="notices">\n{links}\n</ul>\n<p class="pager">{nav}</p>'
        (folder / _list_name(page)).write_text(
            PAGE.format(title=f"行政处罚信息公示（第{page}页）", body=body), encoding="utf-8"
        )
    for n in newest_first:
        fields = {k: html.escape(str(v)) for k, v in vars(n).items()}
        fields["decided"] = f"{n.decided.year}年{n.decided.month}月{n.decided.day}日"
        title = f"行政处罚决定书 {fields['number']}"
        document = PAGE.format(title=title, body=DETAIL.format(**fields))
        (root / n.page).write_text(document, encoding="utf-8")
        if n is newest_first[0]:  # the site's "latest notice" page; spider contracts use it
            (folder / "latest.html").write_text(document, encoding="utf-8")
    return folder / "index.html"
