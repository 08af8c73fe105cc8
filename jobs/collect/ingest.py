"""Collection: one source stream into its bronze table, incrementally and exactly once.

Each kind of source has its collector module; this one picks it from the conf.
"""

from __future__ import annotations

from govlake.config.models import ApiSource, CrawlSource, DatabaseSource, FileSource
from govlake.errors import GovlakeError
from govlake.lakehouse import WriteResult
from govlake.runtime import Runtime


def ingest(rt: Runtime, ref: str, *, pipeline: str, run_id: str) -> list[WriteResult]:
    """Collect the source stream bound to the bronze dataset ``ref``."""
    config, lake = rt.config, rt.lake
    dataset = config.dataset(ref)
    if dataset.collect is None:
        raise GovlakeError(f"{ref} is not a collected dataset")
    source = config.sources[dataset.collect.source]
    stream = dataset.collect.stream
    run = {"pipeline": pipeline, "run_id": run_id}
    if isinstance(source, DatabaseSource):
        from jobs.collect.database import collect_database

        return collect_database(lake, dataset, source, stream, **run)
    if isinstance(source, FileSource):
        from jobs.collect.files import collect_files

        staging = config.home / "staging" / ref
        return collect_files(lake, dataset, source, stream, staging=staging, **run)
    if isinstance(source, ApiSource):
        from jobs.collect.api import collect_api

        staging = config.home / "staging" / ref
        return collect_api(lake, dataset, source, stream, staging=staging, **run)
    assert isinstance(source, CrawlSource)
    from jobs.collect.crawl import collect_crawl

    return collect_crawl(config, lake, dataset, source, stream, **run)
