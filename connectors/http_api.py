"""Paginated HTTP JSON APIs, fetched page by page with retries, spooled as JSON Lines.

Pages are requested by page number, offset or cursor, as the stream declares; 429 and 5xx
answers and dropped connections are retried with exponential backoff (``Retry-After`` is
honoured). Records go to a local JSON Lines spool as they arrive, so memory holds one page at a
time, and the spool is then read like any JSON Lines file (:class:`connectors.files.FileReader`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from govlake.config.models import ApiSource, ApiStream
from govlake.connections import Endpoint
from govlake.errors import GovlakeError

log = logging.getLogger(__name__)
RETRY_STATUS = {429, 500, 502, 503, 504}


class ApiError(GovlakeError):
    """The API refused or kept failing; the message names the source, the URL and the status."""


def _dig(document: Any, dotted: str) -> Any:
    for key in filter(None, dotted.split(".")):
        document = document.get(key) if isinstance(document, dict) else None
    return document


class ApiReader:
    """One stream of an API source, reached at ``server``."""

    def __init__(self, server: Endpoint, source: ApiSource, stream: ApiStream) -> None:
        """Prepare the HTTP client: base URL, auth header and timeout from the conf."""
        self.source = source
        self.stream = stream
        port = f":{server.port}" if server.port else ""
        self.base = f"{server.scheme}://{server.host}{port}{server.path.rstrip('/')}"
        headers = {"Accept": "application/json"}
        headers.update(server.extra.get("headers") or {})
        if server.password:
            headers[source.auth_header] = f"{source.auth_scheme} {server.password}".strip()
        self.client = httpx.Client(
            base_url=self.base, headers=headers, timeout=source.timeout_seconds
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def _get(self, params: dict[str, Any]) -> Any:
        path = "/" + self.stream.path.lstrip("/")
        where = f"source {self.source.name}: GET {self.base}{path}"
        for attempt in range(self.source.max_retries + 1):
            last = attempt == self.source.max_retries
            try:
                response = self.client.get(path, params={**self.stream.params, **params})
            except httpx.TransportError as exc:
                if last:
                    raise ApiError(f"{where}: {exc or type(exc).__name__}") from None
                self._wait(attempt, None, f"{type(exc).__name__}")
                continue
            if response.status_code in RETRY_STATUS and not last:
                self._wait(attempt, response.headers.get("Retry-After"), response.status_code)
                continue
            if response.is_error:
                raise ApiError(
                    f"{where} {params}: HTTP {response.status_code}: {response.text[:200]}"
                )
            try:
                return response.json()
            except json.JSONDecodeError as exc:
                raise ApiError(f"{where} {params}: not JSON: {exc}") from None
        raise AssertionError("unreachable")

    def _wait(self, attempt: int, retry_after: str | None, why: object) -> None:
        delay = self.source.backoff_seconds * 2**attempt
        if retry_after and retry_after.isdigit():
            delay = float(retry_after)
        log.warning("source %s: %s, retry %d in %.1f s", self.source.name, why, attempt + 1, delay)
        time.sleep(delay)

    def pages(self) -> Iterator[list[Any]]:
        """The records of each page, following the stream's pagination."""
        stream = self.stream
        size = {stream.size_param: stream.page_size}
        cursor: Any = None
        for number in range(stream.max_pages):
            if stream.pagination == "page":
                params = {stream.page_param: number + 1, **size}
            elif stream.pagination == "offset":
                params = {stream.offset_param: number * stream.page_size, **size}
            elif stream.pagination == "cursor":
                params = {stream.cursor_param: cursor, **size} if cursor else dict(size)
            else:
                params = {}
            document = self._get(params)
            records = _dig(document, stream.records)
            if not isinstance(records, list):
                raise ApiError(
                    f"source {self.source.name}: no list at {stream.records or 'the root'!r} "
                    f"in the answer to {stream.path} {params}"
                )
            yield records
            if stream.pagination == "none":
                return
            if stream.pagination == "cursor":
                cursor = _dig(document, stream.next_cursor)
                if not cursor:
                    return
            elif len(records) < stream.page_size:
                return
        log.warning("source %s: stopped at max_pages=%d", self.source.name, stream.max_pages)

    def spool(self, target: Path) -> int:
        """Write every record to ``target`` as JSON Lines; returns the record count."""
        count = 0
        with target.open("w", encoding="utf-8") as out:
            for records in self.pages():
                for record in records:
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += len(records)
        return count
