"""Write ``bench/RESULTS.md`` from the result files of the scenarios that were measured.

    python -m bench.report

The summary's ratios are computed from the tables below it; ``bench/results/findings.md``
(where the time goes, from profiles) is appended as written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
REPORT = HERE / "RESULTS.md"
HEAD = """\
# Benchmark results

Measured on {date}: {cpus} cores, {memory_gib} GiB, {system}, Python {python}; PostgreSQL, the
SFTP server (OpenSSH sshd) and the web server on loopback. The whole suite took {suite}.
Reproduce with `make bench` (the whole suite) or `.venv/bin/python -m bench --only NAME` after
`make bench-setup`; the raw figures are in `bench/results/*.json`.

Every arm runs in its own process, alternating with the other arms of its scenario, as many
times as *runs* says. *median s* is the whole process (interpreter start and imports
included); *work s* is the arm's work alone (after its imports), and the ratios and rows/s are
taken on it. A throughput ratio above 1 means the first arm named is the faster. *CPU s*
and *peak RSS* are the arm's whole process tree (Spark's JVM and workers, Scrapy's crawl
process), sampled every 50 ms. Arms that produce data report an order-free hash of their rows
(or, for validation, of the failures found per expectation); the scenario fails unless every
such hash agrees.
"""


def _table(record: dict[str, Any], described: set[str]) -> str:
    ref = record["reference"]
    lines = [
        f"### {record['scenario']}",
        "",
        f"| arm | runs | median s | spread s | work s | work spread s | CPU s | peak RSS MB "
        f"| rows/s | work / {ref} |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for arm in record["arms"]:
        spread, work_spread = arm["spread_s"], arm["work_spread_s"]
        lines.append(
            f"| {arm['arm']} | {arm['runs']} | {arm['median_s']} | {spread[0]}–{spread[1]} "
            f"| {arm['work_s']} | {work_spread[0]}–{work_spread[1]} | {arm['cpu_s']} "
            f"| {arm['peak_rss_mb']} | {_count(arm['rows_per_s'])} | {arm[f'work_vs_{ref}']} |"
        )
    if record["module"] in described:
        lines += ["", "Arms as described above.", ""]
    else:
        described.add(record["module"])
        lines += ["", *_doc_lines(record["doc"]), ""]
    return "\n".join(lines)


def _doc_lines(doc: str) -> list[str]:
    """The scenario module's description of its arms, without the first line."""
    return [line for line in doc.splitlines()[1:] if line.strip()]


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _arm(record: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((a for a in record["arms"] if a["arm"] == name), None)


def _speed(record: dict[str, Any], one_name: str, other_name: str) -> str | None:
    """'one / other throughput: N.NN (work a s against b s)'; above 1, one is faster."""
    one, other = _arm(record, one_name), _arm(record, other_name)
    if one is None or other is None:
        return None
    ratio = other["work_s"] / one["work_s"]
    return (
        f"{one_name} / {other_name} throughput **{ratio:.2f}** "
        f"({one['work_s']} s against {other['work_s']} s)"
    )


SPEEDS = {
    "bench.pg_bronze": [("govlake", "dlt"), ("govlake", "adbc"), ("govlake", "copy")],
    "bench.sftp_bronze": [("govlake", "dlt"), ("govlake", "local_arrow"), ("govlake", "get")],
    "bench.validation": [("govlake", "pandera"), ("govlake", "vectorised")],
    "bench.crawl": [("govlake", "bare")],
    "bench.silver_engines": [("spark", "arrow")],
    "bench.audit": [("audited", "plain")],
}


def _summary(records: list[dict[str, Any]]) -> list[str]:
    lines = ["## Summary", ""]
    for record in records:
        found = [_speed(record, *pair) for pair in SPEEDS.get(record["module"], [])]
        found = [f for f in found if f]
        if record["module"] == "bench.share_latency":
            found = _latencies(record)
        if not found:
            found = [", ".join(f"{a['arm']} {a['work_s']} s" for a in record["arms"])]
        rss = ", ".join(f"{a['arm']} {a['peak_rss_mb']} MB" for a in record["arms"])
        if record["module"] == "bench.validation":
            found.append(_validation_share(record))
        lines.append(f"- **{record['scenario']}**: " + "; ".join([*found, f"peak RSS {rss}"]))
    return [*lines, ""]


LATENCY_PEERS = {"record": ["plain_record", "read_record"], "page": ["plain_page", "read_page"]}


def _latencies(record: dict[str, Any]) -> list[str]:
    """Per API arm: its p50/p99 and requests/s, and its peers' against it."""
    found = []
    for name, peers in LATENCY_PEERS.items():
        arm = _arm(record, name)
        if arm is None:
            continue
        mine = arm["extra"]
        told = [f"{name} p50 {mine['p50_ms']} ms, p99 {mine['p99_ms']} ms, "
                f"{mine['requests_per_s']} req/s"]  # fmt: skip
        for peer in (_arm(record, p) for p in peers):
            if peer is None:
                continue
            theirs = peer["extra"]
            told.append(
                f"{peer['arm']} p50 {theirs['p50_ms']} ms, {theirs['requests_per_s']} req/s "
                f"({name} / {peer['arm']} p50 **{mine['p50_ms'] / max(theirs['p50_ms'], 1):.1f}**"
                f", {peer['arm']} / {name} throughput "
                f"**{theirs['requests_per_s'] / mine['requests_per_s']:.1f}**)"
            )
        found.append("; ".join(told))
    return found


def _validation_share(record: dict[str, Any]) -> str:
    gate, write = _arm(record, "govlake"), _arm(record, "write")
    if gate is None or write is None:
        return ""
    work = gate["work_s"] / (gate["work_s"] + write["work_s"])
    cpu = gate["extra"].get("work_cpu_s", 0) / (
        gate["extra"].get("work_cpu_s", 0) + write["extra"].get("work_cpu_s", 0) or 1
    )
    return (
        f"validation's share of a validated silver write: **{work:.0%}** of the time, "
        f"**{cpu:.0%}** of the CPU (validation {gate['work_s']} s, write {write['work_s']} s; "
        f"importing Great Expectations adds {gate['median_s'] - gate['work_s']:.1f} s a process)"
    )


def write_report(folder: Path = RESULTS, out: Path = REPORT) -> Path:
    """Render every ``<folder>/*.json`` into ``out``."""
    records = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    order = {"bench.pg_bronze": 0, "bench.sftp_bronze": 1, "bench.validation": 2,
             "bench.overheads": 3, "bench.crawl": 4, "bench.silver_engines": 5,
             "bench.audit": 6}  # fmt: skip
    records.sort(key=lambda r: (order.get(r["module"], 9), r.get("position", 0)))
    if not records:
        raise SystemExit(f"no results in {folder}: run python -m bench first")
    minutes = sum(r["total_s"] for r in records) / 60
    head = HEAD.format(**records[0]["machine"], suite=f"{minutes:.0f} minutes (setup included)")
    parts = [head, *_summary(records), "## Scenarios", ""]
    described: set[str] = set()
    parts += [_table(r, described) for r in records]
    findings = folder / "findings.md"
    if findings.exists():
        parts.append(findings.read_text())
    out.write_text("\n".join(parts).rstrip() + "\n")
    return out


if __name__ == "__main__":
    print(write_report())
