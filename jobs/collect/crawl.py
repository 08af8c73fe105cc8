"""Collect a website into bronze with Scrapy, in a child process (Twisted runs once per process).

The task hands the crawl a job file of plain values (the stream's declaration, the user agent,
the detail pages already in bronze); the crawl only spools its items and reports its outcome.
The task then commits the spool through the bronze commit path with the run's batch id, so the
drift and contract checks apply, a crawl that dies commits nothing and a retried task commits
once. It fails with the crawl's own log lines when the crawl failed or reached nothing.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from connectors.crawl.job import CrawlJob, CrawlOutcome
from connectors.crawl.target import URL_FIELD, Target, page_key
from govlake.config.models import CrawlSource, CrawlStream
from govlake.errors import GovlakeError
from govlake.lakehouse import WriteResult
from jobs.collect.bronze import already_committed, commit_rows
from jobs.collect.run import CollectRun

log = logging.getLogger(__name__)

CrawlRun = CollectRun[CrawlSource, CrawlStream]


class CrawlError(GovlakeError):
    """The crawl failed or reached nothing; the message carries the crawl's last errors."""


def collect_crawl(run: CrawlRun) -> list[WriteResult]:
    """Crawl the stream, skipping detail pages already collected; commit the new items."""
    if done := already_committed(run, run.batch_id):
        return done
    run.staging.mkdir(parents=True, exist_ok=True)
    name = run.run_id.replace(":", "_").replace("/", "_")
    target = Target(
        spool=str(run.staging / f"{name}.arrow"),
        result=str(run.staging / f"{name}.json"),
        seen=str(run.staging / f"{name}.seen"),
    )
    job_file = run.staging / f"{name}.job.json"
    try:
        seen = "".join(f"{key}\n" for key in _collected_pages(run))
        Path(target.seen).write_text(seen, encoding="utf-8")
        CrawlJob(run.stream, run.source.user_agent, target).write(job_file)
        _crawl(run, job_file, Path(target.result))
        with pa.memory_map(target.spool) as spool:
            return commit_rows(run, lambda: pa.ipc.open_stream(spool), batch_id=run.batch_id)
    finally:
        for path in (job_file, Path(target.seen), Path(target.spool), Path(target.result)):
            path.unlink(missing_ok=True)


def _collected_pages(run: CrawlRun) -> list[str]:
    """The keys of the detail pages whose items are already in the bronze table."""
    if not run.lake.exists(run.ref):
        return []
    urls = run.lake.dataset(run.ref).to_table(columns=[URL_FIELD]).column(URL_FIELD)
    return sorted({page_key(url) for url in pc.unique(urls).to_pylist()})


def _crawl(run: CrawlRun, job_file: Path, result: Path) -> None:
    """Run the crawl process; its log goes to ``<home>/crawl/<table>/crawl.log``."""
    work = run.rt.config.home / "crawl" / run.ref
    work.mkdir(parents=True, exist_ok=True)
    crawl_log = work / "crawl.log"
    command = [sys.executable, "-m", "connectors.crawl.run", str(job_file)]
    with crawl_log.open("w") as sink:
        done = subprocess.run(command, stdout=sink, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0 or not result.exists():
        raise CrawlError(
            f"{run.where}: crawl failed (exit {done.returncode}):\n{_errors(crawl_log)}"
        )
    outcome = CrawlOutcome.read(result)
    log.info("%s: %s", run.where, outcome)
    if outcome.pages == 0 and outcome.errors:
        raise CrawlError(f"{run.where}: no page could be fetched:\n{_errors(crawl_log)}")


def _errors(crawl_log: Path, keep: int = 5) -> str:
    lines = crawl_log.read_text(errors="replace").splitlines()
    errors = [line for line in lines if "ERROR" in line or "Error" in line]
    return "\n".join((errors or lines)[-keep:])
