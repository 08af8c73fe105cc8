"""Export the catalog in the shape of the provincial government information resource catalogue.

The document follows ``export.schema.json`` (JSON Schema 2020-12; each property's title is the
catalogue's Chinese field name). One resource per catalog entry: the published version by
default, or the entry a reader sees when unpublished ones are included.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from catalog.labels import CLASSIFICATION_NAMES, OPEN_NAMES, SHARING_NAMES, STATUS_NAMES
from catalog.records import CatalogEntry

SCHEMA_FILE = Path(__file__).with_name("export.schema.json")
FORMAT_VERSION = "govlake-catalogue/1"


@cache
def export_schema() -> dict[str, Any]:
    """The JSON Schema every export document satisfies."""
    schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return schema


def catalogue_document(entries: list[CatalogEntry], *, published_only: bool) -> dict[str, Any]:
    """The catalogue document of ``entries``."""
    return {
        "format": FORMAT_VERSION,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "published_only": published_only,
        "resources": [resource_record(entry) for entry in entries],
    }


def resource_record(entry: CatalogEntry) -> dict[str, Any]:
    """One catalogue record from an entry of :class:`catalog.store.Catalog`."""
    d, state = entry.definition, entry.state.model_dump(mode="json")
    return {
        "resource_code": entry.code,
        "name": d.title,
        "dataset": d.dataset,
        "provider": {"code": d.owner, "name": d.owner_name},
        "summary": d.description,
        "category": {"code": d.category, "name": d.category_name},
        "classification": {
            "code": d.classification,
            "name": CLASSIFICATION_NAMES[d.classification],
            "sensitive_items": d.sensitive_columns,
        },
        "format": {
            "type": "database_table",
            "storage": "Delta Lake",
            "delivery_formats": sorted({s.format for s in entry.state.lineage.subscriptions}),
        },
        "items": [
            {
                "name": c.name,
                "type": c.type,
                "nullable": c.nullable,
                "description": c.comment,
                "sensitive": c.sensitive,
            }
            for c in d.columns
            if not c.system
        ],
        "update_cycle": {"code": d.update_cycle.code, "name": d.update_cycle.label},
        "sharing": {
            "type": d.sharing.type,
            "name": SHARING_NAMES[d.sharing.type],
            "conditions": d.sharing.conditions,
        },
        "open": {"type": d.sharing.open, "name": OPEN_NAMES[d.sharing.open]},
        "entry": {
            "version": entry.version,
            "status": entry.status,
            "status_name": STATUS_NAMES[entry.status],
            "registered_at": _iso(entry.registered_at),
        },
        "statistics": {
            "rows": state["rows"],
            "size_bytes": state["size_bytes"],
            "last_updated": state["last_updated"],
            "quality_score": state["quality_score"],
            "freshness": state["freshness"],
        },
    }


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)
