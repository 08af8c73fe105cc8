"""Run benchmark arms in turn on the same data and report medians, spreads and ratios.

Each arm runs in its own child process (``python -m <module> <arm> <params> <work>``), so what
it costs is its own: the wall time, the CPU seconds and the peak resident memory of its whole
process tree (a Spark arm's JVM and Python workers, a crawl's Scrapy process), sampled while it
runs. The child times its work alone (after the interpreter's start and the arm's imports) and
prints one JSON line.
After the child exits, the parent reads what it wrote (``output``: a Delta table) and hashes its
rows; the hash must agree across the arms that produce data, and reading the output back is not
part of any arm's figures. Arms alternate over the repetitions, so drift of the machine (page
cache, other load) spreads over all of them.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench.common import delta_digest

Arm = Callable[[dict[str, Any], Path], dict[str, Any]]
SAMPLE_EVERY_S = 0.05


@dataclass(frozen=True)
class Run:
    """One run of one arm."""

    arm: str
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    result: dict[str, Any]


@dataclass
class _TreeSampler:
    """Polls a process and its descendants: peak summed RSS and each process's CPU time."""

    root: int
    peak_rss: int = 0
    cpu: dict[int, float] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                parent = psutil.Process(self.root)
                tree = [parent, *parent.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            rss = 0
            for process in tree:
                try:
                    with process.oneshot():
                        rss += process.memory_info().rss
                        times = process.cpu_times()
                        self.cpu[process.pid] = times.user + times.system
                except psutil.NoSuchProcess:
                    continue
            self.peak_rss = max(self.peak_rss, rss)
            self.stop.wait(SAMPLE_EVERY_S)


def run_arm(module: str, arm: str, params: Mapping[str, Any], work: Path) -> Run:
    """Run ``arm`` of ``module`` in a child process working in ``work``, and measure it."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", module, arm, json.dumps(params), str(work)],
        stdout=subprocess.PIPE,
        text=True,
    )
    sampler = _TreeSampler(child.pid)
    thread = threading.Thread(target=sampler.run, daemon=True)
    thread.start()
    assert child.stdout is not None
    try:
        with child.stdout:
            output = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
    except BaseException:  # the run was stopped: stop the arm too
        child.kill()
        child.wait()
        raise
    seconds = time.perf_counter() - started
    sampler.stop.set()
    thread.join()
    code = child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if code != 0:
        raise RuntimeError(f"arm {arm} of {module} failed with status {code}")
    # wait4 counts the child and the descendants it waited for; the sampler also sees the ones
    # it did not wait for (a JVM, a server), minus their last instants: take the larger.
    waited_cpu = usage.ru_utime + usage.ru_stime
    sampled_cpu = sum(sampler.cpu.values())
    result = json.loads(output.strip().splitlines()[-1])
    # Not wait4's ru_maxrss: Linux carries the forking parent's RSS into it across exec. The
    # child's own high-water mark catches the peaks between two samples of the tree.
    peak = max(sampler.peak_rss, result.pop("self_peak_rss"))
    return Run(
        arm=arm,
        seconds=seconds,
        cpu_seconds=max(waited_cpu, sampled_cpu),
        peak_rss_mb=peak / 2**20,
        result=result,
    )


def alternate(
    module: str,
    arms: list[str],
    params: Mapping[str, Any],
    repeat: int,
    hashed: list[str] | None = None,
) -> list[Run]:
    """Every arm ``repeat`` times, in turn, each in a fresh work folder removed afterwards.

    An arm that names an ``output`` Delta table (or Parquet file) gets its rows, bytes and an
    order-free hash of the ``hashed`` columns added to its result, read after it exited.
    """
    runs = []
    for round_number in range(repeat):
        for arm in arms:
            work = Path(tempfile.mkdtemp(prefix=f"govlake-bench-{arm}-"))
            try:
                run = run_arm(module, arm, params, work)
                if hashed and "output" in run.result:
                    run.result.update(delta_digest(run.result["output"], hashed))
            finally:
                shutil.rmtree(work, ignore_errors=True)
            print(
                f"  round {round_number + 1}/{repeat}: {arm} {run.seconds:.2f} s "
                f"(work {run.result['work_s']:.2f} s, {run.peak_rss_mb:.0f} MB)",
                file=sys.stderr,
                flush=True,
            )
            runs.append(run)
    return runs


def serve_arm(
    arms: Mapping[str, Arm],
    imports: Mapping[str, list[str]] | None = None,
    warm: Mapping[str, Callable[[dict[str, Any]], None]] | None = None,
) -> None:
    """Child side: run the arm named on the command line and print its JSON result.

    The modules in ``imports[arm]`` are imported, and ``warm[arm](params)`` is run, before the
    clock starts: ``work_s`` is the arm's work, the process figures include the imports.
    """
    name, params, work = sys.argv[1], json.loads(sys.argv[2]), Path(sys.argv[3])
    for module in (imports or {}).get(name, []):
        importlib.import_module(module)
    if warm and name in warm:
        warm[name](params)
    started, cpu = time.perf_counter(), time.process_time()
    result = arms[name](params, work)
    result["work_s"] = time.perf_counter() - started
    result["work_cpu_s"] = round(time.process_time() - cpu, 2)
    result["self_peak_rss"] = _own_peak_rss()
    print(json.dumps(result, default=str), flush=True)


def _own_peak_rss() -> int:
    """This process's peak resident memory since it started its program (``VmHWM``), bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def summarise(runs: list[Run], reference: str) -> list[dict[str, Any]]:
    """Per arm: median and spread of wall time, work time, CPU, RSS, and ratios to ``reference``.

    ``work_vs_<reference>`` above 1 means the arm took longer than the reference.
    """
    arms = list(dict.fromkeys(r.arm for r in runs))
    work = {a: statistics.median(r.result["work_s"] for r in runs if r.arm == a) for a in arms}
    rows = []
    for arm in arms:
        mine = [r for r in runs if r.arm == arm]
        times = [r.seconds for r in mine]
        last = mine[-1].result
        count = last.get("rows")
        rows.append(
            {
                "arm": arm,
                "median_s": round(statistics.median(times), 2),
                "spread_s": [round(min(times), 2), round(max(times), 2)],
                "work_s": round(work[arm], 2),
                "work_spread_s": [
                    round(min(r.result["work_s"] for r in mine), 2),
                    round(max(r.result["work_s"] for r in mine), 2),
                ],
                "cpu_s": round(statistics.median(r.cpu_seconds for r in mine), 2),
                "peak_rss_mb": round(max(r.peak_rss_mb for r in mine)),
                "runs": len(mine),
                "rows": count,
                "bytes": last.get("bytes"),
                "rows_per_s": round(count / work[arm]) if count and work[arm] else None,
                "content": last.get("content"),
                "extra": {k: v for k, v in last.items() if k not in _STANDARD},
                f"work_vs_{reference}": round(work[arm] / work[reference], 2)
                if work[reference]
                else None,
            }
        )
    return rows


_STANDARD = {"rows", "bytes", "content", "work_s", "output"}


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
        "memory_gib": round(psutil.virtual_memory().total / 2**30),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
    }


def save(name: str, scenario: dict[str, Any], folder: Path) -> Path:
    """Write one measured scenario as ``<folder>/<name>.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    record = {"machine": machine(), **scenario}
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return path
