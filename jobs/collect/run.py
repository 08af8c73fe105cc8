"""The run of one collection: which stream goes into which bronze dataset, under which run."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from govlake.config.models import Dataset, SourceBase
from govlake.lakehouse import Lakehouse
from govlake.runtime import Runtime


class Stream(Protocol):
    """What every declared stream has: its name within the source."""

    @property
    def name(self) -> str:
        """The stream's name."""
        ...


SourceT = TypeVar("SourceT", bound=SourceBase)
StreamT = TypeVar("StreamT", bound=Stream)


@dataclass(frozen=True)
class CollectRun(Generic[SourceT, StreamT]):
    """One collection of a source stream into its bronze dataset, built once by ``ingest``.

    Attributes:
        rt: The runtime (conf and lakehouse) of the task.
        dataset: The bronze dataset collected into.
        source: The source, of the kind the collector handles.
        stream: The source's stream bound to the dataset.
        pipeline: The pipeline the run belongs to (commit metadata).
        run_id: The run id; a retried task has the same one.
        staging: Local folder for downloads and spools of this dataset.
        where: What error and log messages say is being collected.
    """

    rt: Runtime
    dataset: Dataset
    source: SourceT
    stream: StreamT
    pipeline: str
    run_id: str
    staging: Path
    where: str

    @property
    def ref(self) -> str:
        """The bronze table ``zone.name``."""
        return self.dataset.ref

    @property
    def lake(self) -> Lakehouse:
        """The lakehouse the dataset lives in."""
        return self.rt.lake

    @property
    def batch_id(self) -> str:
        """The batch id of a run that commits once: the same for a retried task."""
        return f"{self.ref}@{self.run_id}"

    @property
    def origin(self) -> str:
        """``source.stream``, recorded in every row's ``_source`` and in the commit."""
        return f"{self.source.name}.{self.stream.name}"

    def at(self, place: str) -> CollectRun[SourceT, StreamT]:
        """The same run, its messages naming ``place`` within the source (a file, a page)."""
        return replace(self, where=f"source {self.source.name} {place}")
