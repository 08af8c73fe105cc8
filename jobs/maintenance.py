"""Table maintenance: compaction and removal of unreferenced files, table by table.

A table whose Delta log cannot be read, or whose log references files storage no longer has, is
reported with its problem and left alone; the other tables are still maintained.
"""

from __future__ import annotations

from dataclasses import dataclass

from govlake.lakehouse import BrokenTableError
from govlake.runtime import Runtime


@dataclass(frozen=True)
class MaintenanceResult:
    """What maintenance did to one table, or why it could not."""

    ref: str
    files_added: int = 0
    files_removed: int = 0
    files_vacuumed: int = 0
    problem: str | None = None


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
        try:
            missing = lake.missing_files(ref)
        except BrokenTableError as exc:
            results.append(MaintenanceResult(ref, problem=str(exc)))
            continue
        if missing:
            problem = (
                f"table {ref}: {len(missing)} file(s) of the Delta log missing, e.g. {missing[0]}"
            )
            results.append(MaintenanceResult(ref, problem=problem))
            continue
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
