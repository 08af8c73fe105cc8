"""Collection: one source stream into its bronze table, incrementally and exactly once.

``ingest`` builds the run once and hands it to the collector registered for the source's kind.
"""

from __future__ import annotations

from govlake.errors import GovlakeError
from govlake.lakehouse import WriteResult
from govlake.runtime import Runtime
from jobs.collect.registry import collector
from jobs.collect.run import CollectRun


def ingest(rt: Runtime, ref: str, *, pipeline: str, run_id: str) -> list[WriteResult]:
    """Collect the source stream bound to the bronze dataset ``ref``."""
    dataset = rt.config.dataset(ref)
    if dataset.collect is None:
        raise GovlakeError(f"{ref} is not a collected dataset")
    source = rt.config.sources[dataset.collect.source]
    stream = source.stream(dataset.collect.stream)
    if stream is None:  # the conf loader refuses an unknown stream; this narrows the type
        raise GovlakeError(f"source {source.name!r} has no stream {dataset.collect.stream!r}")
    collect = collector(source.kind)
    run = CollectRun(
        rt=rt,
        dataset=dataset,
        source=source,
        stream=stream,
        pipeline=pipeline,
        run_id=run_id,
        staging=rt.config.home / "staging" / ref,
        where=f"source {source.name} stream {stream.name}",
    )
    return collect(run)
