"""Which collector collects each kind of source: an explicit table, imported on lookup.

A collector is a function taking the :class:`~jobs.collect.run.CollectRun` and returning the
writes it made; it commits through :mod:`jobs.collect.bronze`. Its module is imported only when
a source of its kind is collected, so a crawl task does not load database drivers.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from govlake.errors import GovlakeError
from govlake.lakehouse import WriteResult
from jobs.collect.run import CollectRun

Collector = Callable[[CollectRun[Any, Any]], list[WriteResult]]

COLLECTORS = {
    "database": "jobs.collect.database:collect_database",
    "files": "jobs.collect.files:collect_files",
    "http_api": "jobs.collect.api:collect_api",
    "crawl": "jobs.collect.crawl:collect_crawl",
}
"""Source ``kind`` (as in ``conf/sources/*.yaml``) -> ``module:function`` of its collector."""


def collector(kind: str) -> Collector:
    """The collector of sources of ``kind``; an unknown kind is a :class:`GovlakeError`."""
    path = COLLECTORS.get(kind)
    if path is None:
        known = ", ".join(sorted(COLLECTORS))
        raise GovlakeError(f"no collector for source kind {kind!r} (known: {known})")
    module, _, name = path.partition(":")
    found: Collector = getattr(import_module(module), name)
    return found
