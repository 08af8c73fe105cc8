"""One crawl as plain values: what the calling task gives the crawl process, and what it gets.

The task writes a :class:`CrawlJob` to a JSON file and starts ``connectors.crawl.run`` on it;
the crawl spools its items and writes a :class:`CrawlOutcome` beside them. Neither side reads
the other's conf or storage.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from connectors.crawl.target import Target
from govlake.config.models import CrawlStream


@dataclass(frozen=True)
class CrawlJob:
    """Everything one crawl needs: the stream's declaration, who it says it is, its files."""

    stream: CrawlStream
    user_agent: str
    target: Target

    def write(self, path: Path) -> None:
        """Store the job as JSON."""
        job = {
            "stream": self.stream.model_dump(mode="json"),
            "user_agent": self.user_agent,
            "target": asdict(self.target),
        }
        path.write_text(json.dumps(job, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> CrawlJob:
        """The job stored by :meth:`write`."""
        job = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            stream=CrawlStream.model_validate(job["stream"]),
            user_agent=job["user_agent"],
            target=Target(**job["target"]),
        )


@dataclass(frozen=True)
class CrawlOutcome:
    """What a finished crawl reports: items spooled, pages fetched, errors and skips."""

    items: int
    pages: int
    errors: int
    skipped_seen: int
    robots_forbidden: int
    finish_reason: str

    def write(self, path: Path) -> None:
        """Store the outcome as JSON, all at once (a reader never sees half of it)."""
        partial = path.with_name(path.name + ".part")
        partial.write_text(json.dumps(asdict(self)), encoding="utf-8")
        os.replace(partial, path)

    @classmethod
    def read(cls, path: Path) -> CrawlOutcome:
        """The outcome stored by :meth:`write`."""
        return cls(**json.loads(path.read_text(encoding="utf-8")))
