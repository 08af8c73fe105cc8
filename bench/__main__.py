"""The benchmark suite: every scenario, its arms alternating on the same data, then the report.

    python -m bench                      # the whole suite (make bench), about 25 minutes on 2 cores
    python -m bench --only validation    # scenarios whose name starts with a prefix
    python -m bench --list               # what would run

Each scenario's figures go to ``bench/results/<name>.json``; ``bench/RESULTS.md`` is then
written from every result file present (``python -m bench.report`` rewrites it alone).
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import alternate, check_same_content, save, summarise
from bench.report import REPORT, RESULTS, write_report


@dataclass(frozen=True)
class Scenario:
    """One measured scenario: a module of arms, its parameters and its repetitions."""

    name: str
    module: str
    params: dict[str, Any]
    repeat: int = 3
    arms: list[str] | None = None  # default: the module's ARMS


NO_DLT = ["govlake", "get", "local_arrow"]
AUDIT = {"writes": 1000, "rows": 100_000}  # audited writes per run; rows of the verified ledger
# The share API answers about 6 requests a second here: 500 per arm keep the run to minutes.
SHARE_LOAD = {"backend": "postgresql", "rows": 50_000, "requests": 500, "users": 50}
# Most scenarios run three times; the largest fewer, to keep the suite within 30 minutes on two
# cores. dlt's SFTP CSV arm (about 0.8 MB/s) runs at 30 MB only; its ratio is per row.
SUITE = [
    Scenario("pg_bronze_1m", "bench.pg_bronze", {"rows": 1_000_000}),
    Scenario("pg_bronze_10m", "bench.pg_bronze", {"rows": 10_000_000}, repeat=2),
    Scenario("sftp_gbk_30mb", "bench.sftp_bronze", {"mb": 30, "encoding": "gbk"}),
    Scenario("sftp_utf8_30mb", "bench.sftp_bronze", {"mb": 30, "encoding": "utf-8"}),
    Scenario("sftp_gbk_500mb", "bench.sftp_bronze", {"mb": 500, "encoding": "gbk"}, 3, NO_DLT),
    Scenario("sftp_utf8_500mb", "bench.sftp_bronze", {"mb": 500, "encoding": "utf-8"}, 3, NO_DLT),
    Scenario("validation_1m", "bench.validation", {"rows": 1_000_000}),
    Scenario("overheads", "bench.overheads", {}),
    Scenario("crawl_10k", "bench.crawl", {"notices": 10_000}, repeat=1),
    Scenario("silver_1m", "bench.silver_engines", {"rows": 1_000_000}),
    Scenario("silver_3m", "bench.silver_engines", {"rows": 3_000_000, "driver_memory": "8g"}, 1),
    Scenario("silver_10m", "bench.silver_engines", {"rows": 10_000_000}, 1, ["arrow"]),
    Scenario("audit_sqlite", "bench.audit", {"backend": "sqlite", **AUDIT}),
    Scenario("audit_postgresql", "bench.audit", {"backend": "postgresql", **AUDIT}),
    Scenario("delta_sharing_1m", "bench.delta_sharing", {"rows": 1_000_000}),
    Scenario("notify_sqlite", "bench.notify", {"backend": "sqlite", "messages": 2000}),
    Scenario("notify_postgresql", "bench.notify", {"backend": "postgresql", "messages": 2000}),
    Scenario("share_latency", "bench.share_latency", SHARE_LOAD, repeat=1),
]


def run(scenario: Scenario, results: Path) -> None:
    """Prepare the data, alternate the arms, check they agree, save the summary."""
    module = importlib.import_module(scenario.module)
    arms = scenario.arms or module.ARMS
    started = time.perf_counter()
    print(f"{scenario.name}: {module.title(scenario.params)}", file=sys.stderr, flush=True)
    with module.prepared(scenario.params) as params:
        prepared_s = time.perf_counter() - started
        hashed = getattr(module, "HASHED", None)
        runs = alternate(scenario.module, arms, params, scenario.repeat, hashed)
    rows = summarise(runs, module.REFERENCE)
    check_same_content(rows)
    record = {
        "scenario": module.title(scenario.params),
        "name": scenario.name,
        "position": [s.name for s in SUITE].index(scenario.name),
        "module": scenario.module,
        "params": scenario.params,
        "repeat": scenario.repeat,
        "reference": module.REFERENCE,
        "doc": (module.__doc__ or "").strip(),
        "prepare_s": round(prepared_s, 1),
        "total_s": round(time.perf_counter() - started, 1),
        "arms": rows,
    }
    print(f"  saved {save(scenario.name, record, results)}", file=sys.stderr, flush=True)


def main() -> None:
    """Run the chosen scenarios, then rewrite the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], help="name prefixes to run")
    parser.add_argument("--repeat", type=int, help="override every scenario's repetitions")
    parser.add_argument("--list", action="store_true", help="list the scenarios and stop")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    # A stopped run still drops its PostgreSQL schema, stops its servers, removes its files.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    chosen = [s for s in SUITE if not args.only or any(s.name.startswith(p) for p in args.only)]
    if not chosen:
        parser.error(f"no scenario starts with {args.only}; try --list")
    for scenario in chosen:
        if args.list:
            print(f"{scenario.name:24} {scenario.module:22} {scenario.params} x{scenario.repeat}")
            continue
        if args.repeat:
            scenario = Scenario(**{**vars(scenario), "repeat": args.repeat})
        run(scenario, args.results)
    if not args.list:
        out = REPORT if args.results == RESULTS else args.results / "RESULTS.md"
        print(f"wrote {write_report(args.results, out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
