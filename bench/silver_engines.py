"""The registry's silver transform on Spark (local mode) against Arrow alone, same rows.

    python -m bench.silver_engines --rows 1000000

The Arrow arm runs the transform in this process on one core (CPU affinity and Arrow's thread
pool both set to one), as ``engine: arrow`` does; the Spark arm runs it on Spark executors with
every core, as ``engine: spark`` does (session start excluded and reported apart).
Both outputs are checked equal. Prints one JSON line with rows/s and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from datetime import datetime, timedelta

import pyarrow as pa

from govlake.config.models import SparkConfig
from govlake.scenario import make_uscc
from jobs.enterprise_registry import standardise

BRONZE = "bronze.enterprise_registry"
CAPITALS = ["500万元", "1,200,000元", "三百万元", "50万元人民币", "1000万元", "不详"]
DATE_FORMS = ["%Y-%m-%d", "%Y年%m月%d日", "%Y/%m/%d", "%Y%m%d"]
STATUSES = ["存续", "在业", "注销", "吊销", "迁出"]


def raw_rows(count: int, seed: int = 5) -> pa.Table:
    """Bronze-shaped registry rows; about 1 in 10 codes repeats (an older version)."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1)  # noqa: DTZ001 (the registry's local wall-clock time)
    codes = [make_uscc(rng) for _ in range(count - count // 10)]
    codes += [rng.choice(codes) for _ in range(count // 10)]
    founded = [start - timedelta(days=rng.randint(0, 9000)) for _ in range(count)]
    return pa.table(
        {
            "id": pa.array(range(count), pa.int64()),
            "uscc": codes,
            "name": [f"企业{i}有限公司" for i in range(count)],
            "legal_representative": ["张三"] * count,
            "registered_capital": [rng.choice(CAPITALS) for _ in range(count)],
            "address": ["浙江省杭州市西湖区"] * count,
            "established": [d.strftime(rng.choice(DATE_FORMS)) for d in founded],
            "status": [rng.choice(STATUSES) for _ in range(count)],
            "updated_at": pa.array(
                [start + timedelta(seconds=i) for i in range(count)], pa.timestamp("us")
            ),
        }
    )


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()
    table = raw_rows(args.rows)

    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    pa.set_cpu_count(1)
    started = time.perf_counter()
    arrow = standardise({BRONZE: table})
    arrow_s = time.perf_counter() - started
    os.sched_setaffinity(0, cores)
    pa.set_cpu_count(len(cores))

    from jobs.spark.session import spark_session
    from jobs.spark.transform import run_on_spark

    started = time.perf_counter()
    spark = spark_session(
        SparkConfig(
            shuffle_partitions=args.partitions,
            driver_memory="6g",
            options={"spark.ui.enabled": "false"},
        )
    )
    session_s = time.perf_counter() - started
    started = time.perf_counter()
    on_spark = run_on_spark(
        spark,
        "jobs.enterprise_registry:standardise",
        {BRONZE: table},
        keys=["uscc"],
        latest_by="updated_at",
        partitions=args.partitions,
    )
    spark_s = time.perf_counter() - started
    same = on_spark.rows.sort_by("uscc").equals(arrow.rows.sort_by("uscc"))
    print(
        json.dumps(
            {
                "rows": args.rows,
                "cores": len(cores),
                "silver_rows": arrow.rows.num_rows,
                "arrow_s": round(arrow_s, 2),
                "arrow_rows_per_s": round(args.rows / arrow_s),
                "spark_session_s": round(session_s, 2),
                "spark_s": round(spark_s, 2),
                "spark_rows_per_s": round(args.rows / spark_s),
                "spark_over_arrow_time": round(spark_s / arrow_s, 2),
                "same_rows": same,
            }
        )
    )


if __name__ == "__main__":
    main()
