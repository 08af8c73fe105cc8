"""One run at a time builds a table: its lease on this host, its pinned commits on any host.

Every job that reads a table's state and commits to it from that state (collect, derive,
reprocess) runs inside :func:`building`. A second run of the same build is refused before it
reads anything when the lease is held (:mod:`govlake.leases`), or at its commit when another
host's run committed first (:meth:`govlake.lakehouse.Lakehouse.pinned`); either way with one
line naming the table, and nothing of it committed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from govlake.leases import lease
from govlake.runtime import Runtime


@contextmanager
def building(rt: Runtime, ref: str, *, run_id: str) -> Iterator[None]:
    """Hold ``ref``'s lease and pin it (and its quarantine) for the block."""
    with lease(rt.config.home, "table", ref, holder=run_id), rt.lake.pinned(ref):
        yield
