"""``govlake catalog build`` and the last task of every pipeline DAG: generate, then register."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from catalog.generate import generate
from catalog.store import Catalog, Registration
from govlake.runtime import Runtime


@dataclass(frozen=True)
class BuildReport:
    """What one catalog build registered, skipped and noticed."""

    registrations: list[Registration]
    not_built: list[str]
    warnings: list[str]


def build_catalog(rt: Runtime, refs: Iterable[str] | None = None) -> BuildReport:
    """Generate the entries of ``refs`` (default: every dataset) and register them."""
    entries, not_built = generate(rt.config, rt.lake, refs)
    catalog = Catalog(rt)
    return BuildReport(
        registrations=[catalog.register(entry) for entry in entries],
        not_built=not_built,
        warnings=[warning for entry in entries for warning in entry.warnings],
    )
