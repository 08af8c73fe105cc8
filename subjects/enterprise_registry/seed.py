"""The market-regulation enterprise registry: a seeded SQLite database.

Shaped like a real registry export: codes with the odd full-width
digit or space, capital written as ``500万元`` or ``三百万元``, dates in several forms, a few
superseded versions of the same enterprise, and a few rows that must be quarantined (bad check
digits, unreadable dates). The same seed and start always give the same rows; by default
the last record is stamped a minute before the seeding, so freshly seeded data is current.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from faker import Faker
from stdnum.cn import uscc

# A few real county-level administrative division codes (GB/T 2260).
DIVISIONS = ["110105", "110108", "310115", "330106", "440305", "510107", "420111", "320505"]
STATUSES = ["存续"] * 12 + ["在业"] * 4 + ["注销", "吊销", "迁出"]
CN_AMOUNTS = ["三百万元", "五十万元", "一千万元", "伍佰万元", "二百万元人民币"]
ORG_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# The registry stores wall-clock times without a zone, as such exports usually do.
FOUNDING = datetime(1995, 1, 1, 8, 0, 0)  # noqa: DTZ001

metadata = sa.MetaData()
enterprise = sa.Table(
    "enterprise",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uscc", sa.String(32)),
    sa.Column("name", sa.String(200)),
    sa.Column("legal_representative", sa.String(50)),
    sa.Column("registered_capital", sa.String(50)),
    sa.Column("address", sa.String(300)),
    sa.Column("established", sa.String(30)),
    sa.Column("status", sa.String(10)),
    sa.Column("updated_at", sa.DateTime, nullable=False, index=True),
)


def make_uscc(rng: random.Random) -> str:
    """A code valid per GB 32100-2015: authority 9, type 1, a division, an organisation code."""
    body = "91" + rng.choice(DIVISIONS) + "".join(rng.choice(ORG_ALPHABET) for _ in range(9))
    return body + uscc.calc_check_digit(body + "0")


def _capital(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.1:
        return rng.choice(CN_AMOUNTS)
    if roll < 0.5:
        return f"{rng.randint(1, 5000) * 10:,}0000元"
    return f"{rng.choice([10, 50, 100, 200, 500, 1000, 3000])}万元"


def _established(rng: random.Random, when: datetime) -> str:
    forms = ["%Y-%m-%d", "%Y年%-m月%-d日", "%Y/%m/%d", "%Y%m%d"]
    return when.strftime(rng.choice(forms))


def _noisy(rng: random.Random, code: str) -> str:
    """Export noise: a stray space or a full-width digit that NFKC folds back."""
    roll = rng.random()
    if roll < 0.05:
        return f" {code} "
    if roll < 0.08:
        return code.lower()
    if roll < 0.1:
        return code[:-1].translate(str.maketrans("0123456789", "０１２３４５６７８９")) + code[-1]
    return code


def recent_start(rows: int) -> datetime:
    """The first record's time when ``rows`` records a minute apart end a minute ago."""
    now = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    return now - timedelta(minutes=rows)


def generate(rows: int, seed: int, start: datetime | None = None) -> list[dict[str, object]]:
    """``rows`` registry records (about 4% superseded versions, 2% to quarantine)."""
    start = start or recent_start(rows)
    rng = random.Random(seed)
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    records: list[dict[str, object]] = []
    for i in range(rows):
        updated = start + timedelta(minutes=i)
        founded = FOUNDING + timedelta(days=rng.randint(0, 10_000))
        code = make_uscc(rng)
        record: dict[str, object] = {
            "uscc": _noisy(rng, code),
            "name": fake.company(),
            "legal_representative": fake.name(),
            "registered_capital": _capital(rng),
            "address": fake.address().replace("\n", " "),
            "established": _established(rng, founded),
            "status": rng.choice(STATUSES),
            "updated_at": updated,
        }
        roll = rng.random()
        if roll < 0.01:
            record["uscc"] = code[:-1] + ("0" if code[-1] != "0" else "1")
        elif roll < 0.02:
            record["established"] = "不详"
        elif roll < 0.06 and records:
            previous = dict(rng.choice(records))
            previous["updated_at"] = updated
            previous["status"] = rng.choice(["注销", "吊销", "存续"])
            record = previous
        records.append(record)
    return records


def seed(path: Path, rows: int = 2000, seed_value: int = 42) -> bool:
    """Create the registry database at ``path`` unless it exists; returns whether it was made."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    engine = sa.create_engine(f"sqlite:///{partial}")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(enterprise.insert(), generate(rows, seed_value))
    engine.dispose()
    partial.rename(path)
    return True


def append_updates(path: Path, rows: int, seed_value: int) -> None:
    """Add ``rows`` newer records to an existing registry (what a day of changes looks like)."""
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        latest = conn.execute(sa.select(sa.func.max(enterprise.c.updated_at))).scalar()
        start = latest + timedelta(minutes=1) if latest else None
        conn.execute(enterprise.insert(), generate(rows, seed_value, start))
    engine.dispose()
