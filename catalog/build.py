"""``govlake catalog build`` and the last task of every pipeline DAG: generate, then register."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog.generate import generate
from catalog.store import Catalog, Registration
from govlake.config import ProjectConfig, load_config
from govlake.lakehouse import Lakehouse
from govlake.platform_db.database import open_platform_db


@dataclass(frozen=True)
class BuildReport:
    """What one catalog build registered, skipped and noticed."""

    registrations: list[Registration]
    not_built: list[str]
    warnings: list[str]


def build_catalog(config: ProjectConfig, refs: Iterable[str] | None = None) -> BuildReport:
    """Generate the entries of ``refs`` (default: every dataset) and register them."""
    entries, not_built = generate(config, Lakehouse(config.lakehouse), refs)
    catalog = Catalog(open_platform_db(config), config)
    return BuildReport(
        registrations=[catalog.register(entry) for entry in entries],
        not_built=not_built,
        warnings=[warning for entry in entries for warning in entry.warnings],
    )


def build_task(conf_dir: str, refs: list[str]) -> dict[str, Any]:
    """What a DAG task runs after building ``refs``: a summary fit for XCom."""
    report = build_catalog(load_config(Path(conf_dir)), refs)
    return {
        "entries": [
            {"code": r.code, "dataset": r.dataset, "version": r.version, "outcome": r.outcome}
            for r in report.registrations
        ],
        "not_built": report.not_built,
        "warnings": report.warnings,
    }
