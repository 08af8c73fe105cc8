"""Table maintenance: compaction and removal of unreferenced files."""

from __future__ import annotations

from dataclasses import dataclass

from govlake.runtime import Runtime


@dataclass(frozen=True)
class MaintenanceResult:
    """What maintenance did to one table."""

    ref: str
    files_added: int
    files_removed: int
    files_vacuumed: int


def maintain(
    rt: Runtime,
    refs: list[str] | None = None,
    *,
    optimize: bool = True,
    vacuum: bool = True,
) -> list[MaintenanceResult]:
    """Compact and/or vacuum the given tables and their quarantines (every table by default)."""
    lake = rt.lake
    targets = lake.existing(refs) if refs else lake.present(rt.config.datasets)
    results = []
    for ref in targets:
        metrics = lake.optimize(ref) if optimize else {}
        vacuumed = lake.vacuum(ref) if vacuum else []
        results.append(
            MaintenanceResult(
                ref,
                int(metrics.get("numFilesAdded", 0)),
                int(metrics.get("numFilesRemoved", 0)),
                len(vacuumed),
            )
        )
    return results
