"""Seeded, vectorised test data for the benchmarks: millions of rows in seconds, in batches."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.identifiers import ALPHABET, WEIGHTS
from subjects.enterprise_registry.transform import SILVER_SCHEMA

DIVISIONS = ["110105", "110108", "310115", "330106", "440305", "510107", "420111", "320505"]
CAPITALS = ["500万元", "1,200,000元", "三百万元", "50万元人民币", "1000万元", "伍佰万元", "不详"]
DATE_FORMS = ["%Y-%m-%d", "%Y年%m月%d日", "%Y/%m/%d", "%Y%m%d"]
RAW_STATUSES = ["存续", "在业", "注销", "吊销", "迁出"]
SILVER_STATUSES = ["active", "cancelled", "revoked", "moved_out"]
START_US = 1_704_067_200_000_000  # 2024-01-01T00:00:00 in microseconds
BATCH_ROWS = 1_000_000
DAYS = pa.array(np.datetime64("1995-01-01") + np.arange(9000).astype("timedelta64[D]"))
FORMATTED_DAYS = pa.concat_arrays(
    [pc.strftime(pc.cast(DAYS, pa.timestamp("s")), form) for form in DATE_FORMS]
)


def uscc_codes(serials: np.ndarray) -> pa.Array:
    """A valid unified social credit code per serial (distinct serials give distinct codes)."""
    count = len(serials)
    alphabet = np.frombuffer(ALPHABET.encode(), np.uint8)
    values = np.empty((count, 17), np.int64)
    values[:, 0], values[:, 1] = 9, 1
    division = np.frombuffer("".join(DIVISIONS).encode(), np.uint8).reshape(-1, 6) - ord("0")
    values[:, 2:8] = division[serials % len(DIVISIONS)]
    rest = serials // len(DIVISIONS)
    for position in range(16, 7, -1):  # the organisation code: the serial in base 31
        values[:, position] = rest % 31
        rest = rest // 31
    check = (31 - (values * WEIGHTS[:17]).sum(axis=1) % 31) % 31
    text = alphabet[np.concatenate([values, check[:, None]], axis=1)]
    return pa.array(text.view("S18").ravel()).cast(pa.string())


def _pick(rng: np.random.Generator, words: list[str], count: int) -> pa.Array:
    return pc.take(pa.array(words, pa.string()), pa.array(rng.integers(0, len(words), count)))


def _numbered(prefix: str, ids: np.ndarray, suffix: str) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(ids), pa.string()), suffix, "")


def raw_registry(rows: int, seed: int = 5) -> Iterator[pa.RecordBatch]:
    """Bronze-shaped registry rows, the way registries export them, in batches.

    About 1 in 10 rows repeats an earlier code with a later ``updated_at`` (a newer version of
    the enterprise); 1 in 200 has a broken check digit, which the silver step rejects.
    """
    rng = np.random.default_rng(seed)
    for first in range(0, rows, BATCH_ROWS):
        ids = np.arange(first, min(first + BATCH_ROWS, rows), dtype=np.int64)
        count = len(ids)
        serials = np.where(rng.random(count) < 0.1, rng.integers(0, first + count, count), ids)
        codes = uscc_codes(serials)
        broken = rng.random(count) < 0.005
        codes = pc.if_else(broken, pc.utf8_replace_slice(codes, 17, 18, "Z"), codes)
        day = rng.integers(0, len(DAYS), count)
        form = rng.integers(0, len(DATE_FORMS), count)
        established = pc.take(FORMATTED_DAYS, pa.array(form * len(DAYS) + day))
        batch = pa.table(
            {
                "id": pa.array(ids),
                "uscc": codes,
                "name": _numbered("企业", serials, "有限公司"),
                "legal_representative": _pick(rng, ["张三", "李四", "王五", "赵六"], count),
                "registered_capital": _pick(rng, CAPITALS, count),
                "address": _numbered("浙江省杭州市西湖区文三路", ids % 997, "号"),
                "established": established,
                "status": _pick(rng, RAW_STATUSES, count),
                "updated_at": pa.array(START_US + ids * 1_000_000, pa.int64()).cast(
                    pa.timestamp("us")
                ),
            }
        )
        yield from batch.combine_chunks().to_batches()


def silver_registry(rows: int, seed: int = 1) -> pa.Table:
    """Silver-shaped registry rows with known defects for the validation suite to find.

    Of every 1,000 rows: 5 with a wrong check digit, 2 with no name, 3 with an unknown status,
    1 with a negative capital, and 1 repeating the previous row's code.
    """
    rng = np.random.default_rng(seed)
    ids = np.arange(rows, dtype=np.int64)
    slot = ids % 1000
    codes = uscc_codes(ids)
    codes = pc.if_else(pa.array(slot < 5), pc.utf8_replace_slice(codes, 17, 18, "Z"), codes)
    repeat = np.where(slot == 999, ids - 1, ids)
    codes = pc.take(codes, pa.array(repeat))
    names = pc.if_else(pa.array((slot >= 5) & (slot < 7)), None, _numbered("企业", ids, "有限公司"))
    statuses = _pick(rng, SILVER_STATUSES, rows)
    statuses = pc.if_else(pa.array((slot >= 7) & (slot < 10)), "unknown", statuses)
    capital = rng.integers(1, 10**11, rows)
    capital = np.where(slot == 10, -capital, capital)
    schema = pa.schema([f.with_nullable(True) for f in SILVER_SCHEMA])
    return pa.table(
        {
            "uscc": codes,
            "name": names,
            "legal_representative": _pick(rng, ["张三", "李四", "王五"], rows),
            "registered_capital_yuan": pa.array(capital).cast(pa.decimal128(19, 0)),
            "address": _numbered("浙江省杭州市西湖区文三路", ids % 997, "号"),
            "established_on": pa.array(
                np.datetime64("1995-01-01") + rng.integers(0, 9000, rows).astype("timedelta64[D]"),
                pa.date32(),
            ),
            "status": statuses,
            "updated_at": pa.array(START_US + ids * 1_000_000, pa.int64()).cast(pa.timestamp("us")),
        }
    ).cast(schema)
