"""Human resources' social-insurance payments: one GBK CSV per day, dropped on a server.

Each row is one employer's payment for a month: its credit code and name (as HR typed them,
so with the registry's noise), the month, the headcount insured, the amount (``12,345.60元``,
``1.25万元`` or, now and then, in Chinese numerals) and the payment date in Chinese form. A
file may carry a few malformed lines (a field missing or one too many), as hand-edited exports
do; those must be quarantined while the rest loads.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import date, timedelta

HEADER = ["统一社会信用代码", "单位名称", "缴费年月", "参保人数", "缴费金额", "缴费日期"]
CN_AMOUNTS = ["一万二千元", "三万元", "八千五百元"]


def _amount(rng: random.Random, insured: int) -> str:
    value = insured * rng.uniform(900, 2600)
    roll = rng.random()
    if roll < 0.05:
        return rng.choice(CN_AMOUNTS)
    if roll < 0.3:
        return f"{value / 10_000:.2f}万元"
    return f"{value:,.2f}元"


def rows(employers: list[tuple[str, str]], day: date, seed: int) -> list[list[str]]:
    """One day's payments by a sample of ``employers`` (credit code, name)."""
    rng = random.Random(f"{seed}:{day.isoformat()}")
    month = (day.replace(day=1) - timedelta(days=1)).replace(day=1)
    chosen = rng.sample(employers, k=max(1, len(employers) // 20))
    out = []
    for code, name in chosen:
        insured = rng.randint(3, 400)
        month_text = f"{month.year}年{month.month}月" if rng.random() < 0.7 else f"{month:%Y-%m}"
        out.append(
            [code, name, month_text, str(insured), _amount(rng, insured),
             f"{day.year}年{day.month}月{day.day}日"]
        )  # fmt: skip
    return out


def csv_bytes(
    records: list[list[str]], *, encoding: str = "gbk", malformed: int = 0, seed: int = 0
) -> bytes:
    """The records as a CSV file with header; ``malformed`` lines lose or gain a field."""
    rng = random.Random(seed)
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(HEADER)
    broken = set(rng.sample(range(len(records)), k=min(malformed, len(records))))
    for i, record in enumerate(records):
        if i in broken:
            record = record[:-1] if i % 2 else [*record, "备注"]
        writer.writerow(record)
    return text.getvalue().encode(encoding)


def synthetic_employers(count: int, seed: int) -> list[tuple[str, str]]:
    """Employers not tied to a registry (for tests and benchmarks)."""
    from faker import Faker

    from subjects.enterprise_registry.seed import make_uscc

    rng = random.Random(seed)
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    return [(make_uscc(rng), fake.company()) for _ in range(count)]
