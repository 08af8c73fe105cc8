"""The query share modes under load: latency and throughput of 50 clients against plain FastAPI.

Prepared once: the registry seeded with ``rows`` enterprises and built (arrow engine), its
directory published, and the tax bureau granted it by single_query and by composite_query
(uscc, name, status, region_code, legal_representative masked, established_on; no filter;
a quota of :data:`QUOTA` calls a minute, far above what the run makes, so it never throttles);
one record and the first 1,000-row page fetched through the API to give the plain arms their
bytes. Arms, each in a fresh process serving one uvicorn on loopback (started before the clock)
to ``users`` locust clients (headless, in their own process, no pause between requests) until
``requests`` answers have come:
- ``plain_record``: a FastAPI route with no token, grant or audit returning the record's bytes:
  the floor of the single query;
- ``record``: ``GET /v1/resources/{code}/records/{key}``: bearer token, grant in force, quota
  counted, the record read from the Delta table and masked, two audit rows;
- ``plain_page``: a FastAPI route returning the first page's bytes (its ``next_cursor``
  followed, and ignored): the floor of the composite query;
- ``page``: ``GET /v1/resources/{code}/records?limit=1000``, each client following
  ``next_cursor`` through the directory and starting again after its last page;
- ``read_record``, ``read_page``: the same reads through ``catalog.sharing.reads.read`` in the
  arm's process, one after the other (``requests`` / 10 of them), no HTTP and no token: grant,
  quota, Delta read, masking and audit alone.

*rows/s* is records answered per second over the whole arm (locust's start included); the
result files carry the p50 and p99 in ms and the requests per second from the first request to
the last answer, which the summary compares. The
platform DB is a fresh schema of the local PostgreSQL (``backend: postgresql``) or a SQLite
file. Locust and the server share the machine's two cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from bench.common import platform_database
from bench.delta_sharing import (
    COLUMNS,
    PASSWORD,
    authorised,
    conf_without_servers,
    platform_home,
    published_directory,
    serve,
)
from bench.harness import serve_arm

ARMS = ["plain_record", "record", "read_record", "plain_page", "page", "read_page"]
REFERENCE = "plain_record"
PAGE = 1000
QUOTA = 1_000_000  # calls a minute: generous, so the benchmark measures the API, not the quota
PLATFORM_CONN = "AIRFLOW_CONN_GOVLAKE_PLATFORM"
LOAD = Path(__file__).resolve().with_name("share_load.py")


def title(params: dict[str, Any]) -> str:
    """The scenario's heading."""
    return (
        f"Query share modes over HTTP on {params['backend']}: {params['requests']:,} requests "
        f"of {params['users']} clients for one record and for {PAGE:,}-row pages of a "
        f"{params['rows']:,}-row resource, against plain FastAPI routes of the same bytes and "
        "the same reads in-process"
    )


@contextmanager
def prepared(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The directory published and granted in both query modes; the bytes of the plain arms."""
    from catalog.sharing import applications as chain

    with platform_home("share-latency") as work, _platform_db(params["backend"], work):
        conf = conf_without_servers(work)
        people, code = published_directory(conf, params["rows"])
        terms = chain.Grant(columns=COLUMNS, per_minute=QUOTA)
        for mode in ("single_query", "composite_query"):
            authorised(people, code, mode, terms)
        key, record, page = _answers(conf, code)
        answers = {"record_bytes": work / "record.json", "page_bytes": work / "page.json"}
        answers["record_bytes"].write_bytes(record)
        answers["page_bytes"].write_bytes(page)
        yield {**params, "conf": str(conf), "code": code, "key": key,
               **{name: str(path) for name, path in answers.items()}}  # fmt: skip


@contextmanager
def _platform_db(backend: str, work: Path) -> Iterator[None]:
    """The platform DB on ``backend``, its URL in the environment the arms inherit."""
    saved = os.environ.get(PLATFORM_CONN)
    with platform_database(backend, work, "share") as url:
        os.environ[PLATFORM_CONN] = url
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop(PLATFORM_CONN, None)
            else:
                os.environ[PLATFORM_CONN] = saved


def _answers(conf: Path, code: str) -> tuple[str, bytes, bytes]:
    """A key in the middle of the first page, its record's answer and the first page's answer."""
    from fastapi.testclient import TestClient

    from apps.catalog_api import create_app

    with TestClient(create_app(_runtime(str(conf)))) as client:
        client.headers["Authorization"] = f"Bearer {_token(str(conf))}"
        page = client.get(f"/v1/resources/{code}/records", params={"limit": PAGE})
        page.raise_for_status()
        key = page.json()["rows"][PAGE // 2]["uscc"]
        record = client.get(f"/v1/resources/{code}/records/{key}")
        record.raise_for_status()
    return key, record.content, page.content


@cache
def _runtime(conf: str) -> Any:
    from govlake.runtime import Runtime

    return Runtime.load(conf)


@cache
def _token(conf: str) -> str:
    from services.identity import authentication

    return authentication.login(_runtime(conf), "tax.analyst", PASSWORD).token


@cache
def _served(conf: str) -> str:
    """The catalog API served from this process; its base URL."""
    from apps.catalog_api import create_app

    return serve(create_app(_runtime(conf)))


@cache
def _served_plain(record: str, page: str) -> str:
    """Two plain FastAPI routes answering the prepared bytes, served from this process."""
    from fastapi import FastAPI, Response

    app = FastAPI()
    answers = {"record": Path(record).read_bytes(), "page": Path(page).read_bytes()}

    @app.get("/plain/{what}")
    def plain(what: str) -> Response:
        return Response(answers[what], media_type="application/json")

    return serve(app)


def _warm(params: dict[str, Any]) -> None:
    _token(params["conf"])
    _served(params["conf"])


def _warm_plain(params: dict[str, Any]) -> None:
    _served_plain(params["record_bytes"], params["page_bytes"])


def _load(params: dict[str, Any], url: str, path: str, work: Path, *, token: str = "",
          follow: bool = False) -> dict[str, Any]:  # fmt: skip
    """``params['requests']`` requests of ``params['users']`` locust clients; their figures."""
    out = work / "load.json"
    command = [sys.executable, "-m", "locust", "-f", str(LOAD), "--headless", "--only-summary",
               "--skip-log-setup", "-u", str(params["users"]), "-r", str(params["users"]),
               "-H", url, "--bench-path", path, "--bench-requests", str(params["requests"]),
               "--bench-rows", str(PAGE), "--bench-out", str(out)]  # fmt: skip
    if follow:
        command.append("--bench-follow")
    env = {**os.environ, "GOVLAKE_BENCH_TOKEN": token}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if not out.exists():
        raise RuntimeError(f"locust exited with {done.returncode}: {done.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(out.read_text())
    if figures["failures"] or figures["requests"] != params["requests"]:
        raise RuntimeError(f"{path}: {figures}")
    return figures


def arm_plain_record(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The record's bytes from a plain route."""
    url = _served_plain(params["record_bytes"], params["page_bytes"])
    return _load(params, url, "/plain/record", work)


def arm_record(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The single query of one record."""
    path = f"/v1/resources/{params['code']}/records/{params['key']}"
    return _load(params, _served(params["conf"]), path, work, token=_token(params["conf"]))


def arm_plain_page(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The first page's bytes from a plain route, its cursor followed."""
    url = _served_plain(params["record_bytes"], params["page_bytes"])
    return _load(params, url, f"/plain/page?limit={PAGE}", work, follow=True)


def arm_page(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The composite query, 1,000-row pages, cursors followed."""
    path = f"/v1/resources/{params['code']}/records?limit={PAGE}"
    return _load(params, _served(params["conf"]), path, work, token=_token(params["conf"]),
                 follow=True)  # fmt: skip


def arm_read_record(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The single query's read in-process."""
    from catalog.sharing.reads import Selection

    return _reads(params, "single_query", lambda _: Selection(record=params["key"], limit=1))


def arm_read_page(params: dict[str, Any], work: Path) -> dict[str, Any]:
    """The composite query's reads in-process, cursors followed."""
    from catalog.sharing.reads import Selection

    return _reads(params, "composite_query", lambda cursor: Selection(limit=PAGE, cursor=cursor))


def _reads(
    params: dict[str, Any], mode: str, selection: Callable[[str | None], Any]
) -> dict[str, Any]:
    """``requests`` / 10 reads in turn as the tax bureau's analyst; their latency."""
    from catalog.sharing.reads import read

    rt = _analyst(params["conf"])
    calls, cursor, rows, took = params["requests"] // 10, None, 0, []
    started = time.perf_counter()
    for _ in range(calls):
        began = time.perf_counter()
        page = read(rt, params["code"], mode, selection(cursor))
        took.append(time.perf_counter() - began)
        cursor, rows = page.next_cursor, rows + page.rows.num_rows
    span = time.perf_counter() - started
    took.sort()
    return {"rows": rows, "requests": calls, "failures": 0, "p50_ms": _ms(took, 0.5),
            "p99_ms": _ms(took, 0.99), "mean_ms": round(span / calls * 1000, 1),
            "span_s": round(span, 3), "requests_per_s": round(calls / span, 1)}  # fmt: skip


def _ms(ordered: list[float], share: float) -> int:
    """The ``share`` quantile of ``ordered`` seconds, in whole ms."""
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000)


@cache
def _analyst(conf: str) -> Any:
    from services.identity import authentication

    rt = _runtime(conf)
    return rt.acting_as(authentication.login(rt, "tax.analyst", PASSWORD).principal)


def _warm_reads(params: dict[str, Any]) -> None:
    _analyst(params["conf"])


if __name__ == "__main__":
    warm = {"plain_record": _warm_plain, "record": _warm, "plain_page": _warm_plain, "page": _warm,
            "read_record": _warm_reads, "read_page": _warm_reads}  # fmt: skip
    serve_arm({name: globals()[f"arm_{name}"] for name in ARMS}, None, warm)
