"""The dataset graph of ``conf/``: which pipeline builds each dataset, and from what.

Computed once from the entries that passed validation. It tolerates what the cross-file checks
report (unknown inputs, datasets built twice or by no pipeline), so the checks can ask it. In a
conf that passed them every dataset has its pipeline, and only :meth:`DatasetGraph.pipeline_order`
raises, on a cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from govlake.config.models import Dataset, Pipeline
from govlake.errors import GovlakeError, UnknownDatasetError


@dataclass(frozen=True)
class DatasetGraph:
    """Datasets linked to their inputs and to the pipeline that builds them.

    ``inputs``: each dataset's inputs; ``builds``: each pipeline's datasets, in its order;
    ``builders``: each built dataset's pipeline (the first that lists it); ``consumers``: the
    datasets that read each dataset, in declaration order.
    """

    inputs: Mapping[str, tuple[str, ...]]
    builds: Mapping[str, tuple[str, ...]]
    builders: Mapping[str, str]
    consumers: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, datasets: Mapping[str, Dataset], pipelines: Mapping[str, Pipeline]) -> DatasetGraph:
        """The graph of these datasets and pipelines, in their declaration order."""
        builders: dict[str, str] = {}
        for pipeline in pipelines.values():
            for ref in pipeline.builds:
                if ref in datasets:
                    builders.setdefault(ref, pipeline.name)
        consumers: dict[str, list[str]] = {}
        for ref, dataset in datasets.items():
            for upstream in dict.fromkeys(dataset.inputs):
                consumers.setdefault(upstream, []).append(ref)
        return cls(
            inputs={ref: tuple(d.inputs) for ref, d in datasets.items()},
            builds={name: tuple(p.builds) for name, p in pipelines.items()},
            builders=builders,
            consumers={ref: tuple(readers) for ref, readers in consumers.items()},
        )

    def builder(self, ref: str) -> str:
        """The pipeline that builds ``ref``."""
        try:
            return self.builders[ref]
        except KeyError:
            raise UnknownDatasetError(f"no pipeline builds {ref!r}") from None

    def external_inputs(self, pipeline: str) -> list[str]:
        """Inputs of ``pipeline``'s datasets that it does not build itself, sorted.

        In a checked conf each is built by another pipeline: the ones an ``on_update`` DAG waits on.
        """
        own = self.builds[pipeline]
        return sorted({up for ref in own for up in self.inputs.get(ref, ()) if up not in own})

    def upstream(self, pipeline: str) -> set[str]:
        """The pipelines that build the inputs ``pipeline`` reads from others."""
        return {
            self.builders[ref] for ref in self.external_inputs(pipeline) if ref in self.builders
        }

    def pipeline_order(self) -> list[str]:
        """Pipeline names, each after the pipelines that build its inputs, else declaration order.

        Raises:
            GovlakeError: some pipelines depend on each other in a cycle (they are named).
        """
        upstream = {name: self.upstream(name) for name in self.builds}
        order: list[str] = []
        pending = list(self.builds)
        while pending:
            ready = next((name for name in pending if upstream[name] <= set(order)), None)
            if ready is None:
                raise GovlakeError(
                    "pipelines depend on each other in a cycle: " + ", ".join(pending)
                )
            order.append(ready)
            pending.remove(ready)
        return order

    def ancestors(self, ref: str) -> list[str]:
        """Every dataset ``ref`` is derived from, nearest first, each once."""
        return self._reach(ref, self.inputs)

    def descendants(self, ref: str) -> list[str]:
        """Every dataset derived from ``ref``, nearest first, each once."""
        return self._reach(ref, self.consumers)

    @staticmethod
    def _reach(ref: str, edges: Mapping[str, tuple[str, ...]]) -> list[str]:
        """Datasets reachable from ``ref`` along ``edges``, breadth first, each once."""
        found: list[str] = []
        frontier = list(edges.get(ref, ()))
        while frontier:
            current = frontier.pop(0)
            if current not in found:
                found.append(current)
                frontier += edges.get(current, ())
        return found
