"""HTTP JSON APIs against a real HTTP server on loopback: pagination, auth, retries."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors.http_api import ApiError
from govlake.config.loader import load_config
from govlake.lakehouse import Lakehouse
from govlake.runtime import Runtime
from jobs.collect.ingest import ingest

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token"
RECORDS = [{"id": i, "名称": f"许可证{i}", "detail": {"级别": i % 3}} for i in range(1, 48)]


class LicenceApi(BaseHTTPRequestHandler):
    """``/api/licences`` by page, offset or cursor; flaky on purpose: 429 once, 503 once."""

    failures: dict[str, int]
    seen: list[str]

    def do_GET(self) -> None:  # noqa: N802 - http.server's hook name
        self.seen.append(self.path)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._send(401, {"error": "bad token"})
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        size = int(query.get("page_size", 10))
        if "page" in query:
            start = (int(query["page"]) - 1) * size
        elif "cursor" in query:
            start = int(query["cursor"])
        else:
            start = int(query.get("offset", 0))
        for status in (429, 503):
            key = f"{status}:{start}"
            if start == 20 and self.failures.get(key, 0) < 1:
                self.failures[key] = 1
                return self._send(status, {"error": "try later"}, {"Retry-After": "0"})
        chunk = RECORDS[start : start + size]
        following = start + size if start + size < len(RECORDS) else None
        return self._send(200, {"data": {"items": chunk}, "next": following})

    def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def api() -> Iterator[tuple[str, type[LicenceApi]]]:
    handler = type("Handler", (LicenceApi,), {"failures": {}, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


SOURCE = """\
name: licences
kind: http_api
title: 许可证接口
owner: platform
conn_id: licences_api
backoff_seconds: 0
max_retries: {retries}
streams:
  - name: rows
    path: /api/licences
    records: data.items
    pagination: {pagination}
    page_size: 10
"""


@pytest.mark.parametrize("pagination", ["page", "offset", "cursor"])
def test_every_page_is_collected_through_retries(
    source_conf: Callable[..., Path],
    api: tuple[str, type[LicenceApi]],
    monkeypatch: pytest.MonkeyPatch,
    pagination: str,
) -> None:
    url, handler = api
    host = url.removeprefix("http://")
    monkeypatch.setenv("AIRFLOW_CONN_LICENCES_API", f"http://:{TOKEN}@{host}")
    conf = source_conf(
        "licences", SOURCE.format(pagination=pagination, retries=3), write="overwrite"
    )
    [result] = ingest(Runtime.load(conf), "bronze.licences", pipeline="p", run_id="r1")
    assert result.rows == len(RECORDS)
    table = Lakehouse(load_config(conf).lakehouse).read("bronze.licences")
    assert sorted(int(i) for i in table.column("id").to_pylist()) == list(range(1, 48))
    assert table.column("detail").to_pylist()[0] == '{"级别": 1}'
    assert len(handler.seen) == 5 + 2  # five pages; the third answered 429, then 503, then 200


def test_bad_token_and_exhausted_retries_name_the_source(
    source_conf: Callable[..., Path],
    api: tuple[str, type[LicenceApi]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, _ = api
    host = url.removeprefix("http://")
    conf = source_conf("licences", SOURCE.format(pagination="page", retries=1), write="overwrite")
    monkeypatch.setenv("AIRFLOW_CONN_LICENCES_API", f"http://:wrong@{host}")
    with pytest.raises(ApiError, match=r"source licences: GET .*/api/licences .*HTTP 401"):
        ingest(Runtime.load(conf), "bronze.licences", pipeline="p", run_id="r1")
    monkeypatch.setenv("AIRFLOW_CONN_LICENCES_API", f"http://:{TOKEN}@{host}")
    with pytest.raises(ApiError, match=r"HTTP 503"):  # 429 retried once, then 503: out of retries
        ingest(Runtime.load(conf), "bronze.licences", pipeline="p", run_id="r2")
    assert not Lakehouse(load_config(conf).lakehouse).exists("bronze.licences")
