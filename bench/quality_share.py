"""Validation time as a share of load time, on a generated silver table.

    python -m bench.quality_share --rows 1000000

Load = one Lakehouse merge-free append of the rows (Delta commit included). Validation = the
silver suite through the quality gate (Great Expectations on pandas), split into the one-off
import cost and the suite run. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from govlake.config.models import Dataset, LakehouseConfig, Quality
from govlake.lakehouse import Commit, Lakehouse
from govlake.scenario import make_uscc
from jobs.enterprise_registry import SILVER_SCHEMA


def silver_rows(count: int, seed: int = 1) -> pa.Table:
    """``count`` valid silver rows (distinct codes)."""
    rng = random.Random(seed)
    codes = list(dict.fromkeys(make_uscc(rng) for _ in range(count)))
    while len(codes) < count:
        codes = list(dict.fromkeys([*codes, make_uscc(rng)]))
    start = datetime(2024, 1, 1)  # noqa: DTZ001 (the registry's local wall-clock time)
    statuses = ["active", "cancelled", "revoked", "moved_out"]
    return pa.Table.from_pydict(
        {
            "uscc": codes,
            "name": [f"企业{i}有限公司" for i in range(count)],
            "legal_representative": ["张三"] * count,
            "registered_capital_yuan": [Decimal(rng.randint(1, 10**9)) / 100 for _ in range(count)],
            "address": ["浙江省杭州市西湖区文三路"] * count,
            "established_on": [(start - timedelta(days=i % 9000)).date() for i in range(count)],
            "status": [statuses[i % 4] for i in range(count)],
            "updated_at": [start + timedelta(seconds=i) for i in range(count)],
        },
        schema=SILVER_SCHEMA,
    )


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    rows = parser.parse_args().rows
    table = silver_rows(rows)
    with tempfile.TemporaryDirectory() as tmp:
        lake = Lakehouse(LakehouseConfig(root=f"{tmp}/lake"))
        started = time.perf_counter()
        lake.write("silver.bench", table, Commit("bench", "r", "b", "bench"), mode="append")
        load = time.perf_counter() - started

        started = time.perf_counter()
        import great_expectations  # noqa: F401

        import jobs.quality.custom_expectations  # noqa: F401

        gx_import = time.perf_counter() - started
        from jobs.quality.parameters import resolve
        from jobs.quality.suites import load_suite, parameter_names, validate

        suite = (
            Path(__file__).resolve().parent.parent
            / "expectations"
            / "silver__enterprise_registry.json"
        )
        dataset = Dataset(
            zone="silver",
            name="bench",
            title="bench",
            owner="platform",
            keys=["uscc"],
            write="merge",
            inputs=["bronze.bench"],
            transform="jobs.enterprise_registry:standardise",
            quality=Quality(policy="quarantine"),
        )
        loaded = load_suite(suite)
        params = resolve(parameter_names(loaded), dataset=dataset, input_rows=rows, lake=lake)
        started = time.perf_counter()
        validation = validate(table, suite, loaded, params, Path(tmp) / "quality")
        check = time.perf_counter() - started
    print(
        json.dumps(
            {
                "rows": rows,
                "load_s": round(load, 2),
                "gx_import_s": round(gx_import, 2),
                "validate_s": round(check, 2),
                "validate_share_of_load": round(check / load, 2),
                "with_import_share_of_load": round((check + gx_import) / load, 2),
                "score": validation.score,
                "success": validation.success,
            }
        )
    )


if __name__ == "__main__":
    main()
