"""Collect a website into bronze with Scrapy, in a child process (Twisted runs once per process).

The child commits the items itself (``connectors.crawl.pipelines``) and leaves a result file;
this task reports it, and fails with the crawl's own log lines when the site gave nothing back.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

from govlake.config.models import CrawlSource, CrawlStream
from govlake.errors import GovlakeError
from govlake.lakehouse import WriteResult
from jobs.collect.run import CollectRun

log = logging.getLogger(__name__)


class CrawlError(GovlakeError):
    """The crawl failed or reached nothing; the message carries the crawl's last errors."""


def collect_crawl(run: CollectRun[CrawlSource, CrawlStream]) -> list[WriteResult]:
    """Crawl the stream, committing new detail pages' items to the bronze dataset."""
    config, ref, pipeline, run_id = run.rt.config, run.ref, run.pipeline, run.run_id
    work = config.home / "crawl" / ref
    work.mkdir(parents=True, exist_ok=True)
    result_file = work / f"{run_id.replace(':', '_').replace('/', '_')}.json"
    result_file.unlink(missing_ok=True)
    crawl_log = work / "crawl.log"
    command = [sys.executable, "-m", "connectors.crawl.run", str(config.conf_dir), ref,
               pipeline, run_id, str(result_file)]  # fmt: skip
    with crawl_log.open("w") as sink:
        done = subprocess.run(command, stdout=sink, stderr=subprocess.STDOUT, check=False)
    where = run.where
    if done.returncode != 0 or not result_file.exists():
        raise CrawlError(f"{where}: crawl failed (exit {done.returncode}):\n{_errors(crawl_log)}")
    result = json.loads(result_file.read_text())
    log.info("%s: %s", where, result)
    if result["pages"] == 0 and result["errors"]:
        raise CrawlError(f"{where}: no page could be fetched:\n{_errors(crawl_log)}")
    return [WriteResult(ref, result["rows"], result["version"], result["status"])]


def _errors(crawl_log: Path, keep: int = 5) -> str:
    lines = crawl_log.read_text(errors="replace").splitlines()
    errors = [line for line in lines if "ERROR" in line or "Error" in line]
    return "\n".join((errors or lines)[-keep:])
