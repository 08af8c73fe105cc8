"""Run benchmark arms in turn on the same data and report medians, spreads and ratios.

Each arm runs in its own child process (``python -m <module> arm <name> ...``), so its peak RSS
and CPU seconds (``wait4`` of the child: its own and its waited-for children's) are its own. An
arm prints one JSON line: ``rows``, ``bytes`` and a ``content`` hash of what it produced, which
must agree across the arms that produce data, and ``work_s``, its time without interpreter
start and imports. Arms alternate over the repetitions, so drift of
the machine (page cache, other load) spreads over all of them.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Run:
    """One run of one arm."""

    arm: str
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    result: dict[str, Any]


def run_arm(module: str, arm: str, args: list[str]) -> Run:
    """Run ``arm`` of ``module`` in a child process and measure it."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", module, "arm", arm, *args], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"arm {arm} of {module} failed with status {code}")
    return Run(
        arm=arm,
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,
        result=json.loads(output.strip().splitlines()[-1]),
    )


def alternate(module: str, arms: list[str], args: list[str], repeat: int) -> list[Run]:
    """Every arm ``repeat`` times, in turn."""
    runs = []
    for round_number in range(repeat):
        for arm in arms:
            run = run_arm(module, arm, args)
            print(f"  round {round_number + 1}: {arm} {run.seconds:.2f} s", file=sys.stderr)
            runs.append(run)
    return runs


def summarise(runs: list[Run], reference: str) -> list[dict[str, Any]]:
    """Per arm: median and spread of wall time, CPU, RSS, throughput and ratio to ``reference``."""
    arms = list(dict.fromkeys(r.arm for r in runs))
    medians = {a: statistics.median(r.seconds for r in runs if r.arm == a) for a in arms}
    rows = []
    for arm in arms:
        mine = [r for r in runs if r.arm == arm]
        times = [r.seconds for r in mine]
        last = mine[-1].result
        rows.append(
            {
                "arm": arm,
                "median_s": round(medians[arm], 2),
                "spread_s": [round(min(times), 2), round(max(times), 2)],
                "work_s": round(statistics.median(r.result["work_s"] for r in mine), 2),
                "cpu_s": round(statistics.median(r.cpu_seconds for r in mine), 2),
                "peak_rss_mb": round(max(r.peak_rss_mb for r in mine)),
                "rows": last.get("rows"),
                "bytes": last.get("bytes"),
                "rows_per_s": round(last["rows"] / medians[arm]) if last.get("rows") else None,
                "content": last.get("content"),
                f"time_vs_{reference}": round(medians[arm] / medians[reference], 2),
            }
        )
    return rows


def check_same_content(rows: list[dict[str, Any]]) -> None:
    """Every arm that reports a content hash reports the same one."""
    hashes = {r["arm"]: r["content"] for r in rows if r["content"]}
    if len(set(hashes.values())) > 1:
        raise RuntimeError(f"arms produced different rows: {hashes}")


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "date": datetime.now(UTC).date().isoformat(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
    }


def markdown(title: str, rows: list[dict[str, Any]], reference: str) -> str:
    """A Markdown table of the summary."""
    head = (
        f"### {title}\n\n| arm | median s | spread s | work s | CPU s | peak RSS MB | rows/s | "
        f"time / {reference} |\n|---|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {r['arm']} | {r['median_s']} | {r['spread_s'][0]}–{r['spread_s'][1]} | {r['work_s']} "
        f"| {r['cpu_s']} "
        f"| {r['peak_rss_mb']} | {r['rows_per_s'] or '-'} | {r[f'time_vs_{reference}']} |\n"
        for r in rows
    )
    return head + body


def save(results: dict[str, Any], folder: Path) -> None:
    """Write ``results.json`` beside the Markdown."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
