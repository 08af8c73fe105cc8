"""The locustfile of the share API's latency benchmark: a bounded number of requests, then stop.

    locust -f bench/share_load.py --headless -u 50 -r 50 -H URL --bench-path /v1/... \
        --bench-requests 2000 --bench-out summary.json [--bench-follow --bench-rows 1000]

Each user sends ``GET --bench-path`` without pause (with the bearer token in
``GOVLAKE_BENCH_TOKEN``, if set), and with ``--bench-follow`` reads ``next_cursor`` from each
page and asks for the next one (``cursor=``), from the first page again after the last.
Exactly ``--bench-requests`` requests are sent; then the run stops and ``--bench-out`` gets
the figures: requests, rows, failures, p50/p99 ms (locust's histogram) and requests per second
over the span from the first request sent to the last answer. A failure is any status other
than 200, or a page of other than ``--bench-rows`` rows before its last.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import gevent
from locust import FastHttpUser, constant, events, task
from locust.exception import StopUser


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    parser.add_argument("--bench-path", required=True, include_in_web_ui=False)
    parser.add_argument("--bench-token", default="", env_var="GOVLAKE_BENCH_TOKEN",
                        include_in_web_ui=False)  # fmt: skip
    parser.add_argument("--bench-requests", type=int, default=2000, include_in_web_ui=False)
    parser.add_argument("--bench-rows", type=int, default=0, include_in_web_ui=False)
    parser.add_argument("--bench-follow", action="store_true", include_in_web_ui=False)
    parser.add_argument("--bench-out", required=True, include_in_web_ui=False)


class _Tally:
    """Tickets handed out and answers received; the span from the first to the last."""

    issued = 0
    answered = 0
    rows = 0
    first = 0.0
    last = 0.0


class ShareClient(FastHttpUser):
    """One client of the share API: the same request again and again, following cursors."""

    wait_time = constant(0)

    def on_start(self) -> None:
        """The bearer token, if any, and the first page."""
        options = self.environment.parsed_options
        token = options.bench_token
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.cursor: str | None = None

    @task
    def ask(self) -> None:
        """One request, if the bound allows it; the run stops after the last answer."""
        options = self.environment.parsed_options
        if _Tally.issued >= options.bench_requests:
            raise StopUser
        if _Tally.issued == 0:
            _Tally.first = time.perf_counter()
        _Tally.issued += 1
        name = path = options.bench_path
        if self.cursor:
            path += ("&" if "?" in path else "?") + urlencode({"cursor": self.cursor})
        with self.client.get(path, headers=self.headers, name=name,
                             catch_response=True) as answer:  # fmt: skip
            if answer.status_code != 200:
                answer.failure(f"status {answer.status_code}: {answer.text[:200]}")
            elif options.bench_follow:
                self._follow(answer, options.bench_rows)
            else:
                _Tally.rows += 1
        _Tally.answered += 1
        if _Tally.answered == options.bench_requests:
            _Tally.last = time.perf_counter()
            gevent.spawn(self.environment.runner.quit)

    def _follow(self, answer: Any, rows: int) -> None:
        page = json.loads(answer.content)
        self.cursor = page["next_cursor"]
        _Tally.rows += len(page["rows"])
        if self.cursor and len(page["rows"]) != rows:
            answer.failure(f"a page of {len(page['rows'])} rows, not {rows}")


@events.quitting.add_listener
def _summary(environment: Any, **_: Any) -> None:
    total = environment.stats.total
    span = _Tally.last - _Tally.first
    figures = {
        "requests": total.num_requests,
        "rows": _Tally.rows,
        "failures": total.num_failures,
        "p50_ms": total.get_response_time_percentile(0.5),
        "p99_ms": total.get_response_time_percentile(0.99),
        "mean_ms": round(total.avg_response_time, 1),
        "span_s": round(span, 3),
        "requests_per_s": round(total.num_requests / span, 1) if span > 0 else None,
        "errors": [str(e.error)[:200] for e in list(environment.stats.errors.values())[:3]],
    }
    Path(environment.parsed_options.bench_out).write_text(json.dumps(figures))
