"""The catalog's read-only HTTP API (FastAPI): list, show, search and export.

It serves the published entries unless asked for ``published_only=false``; nothing here
changes the catalog (review and publication go through ``govlake catalog`` for now). Run it with
``govlake catalog serve``; the OpenAPI document is at ``/openapi.json``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query

from catalog.export import export_document, resource_record
from catalog.store import Catalog, Filters
from govlake.errors import GovlakeError
from govlake.runtime import Runtime


def create_app(rt: Runtime) -> FastAPI:
    """The API over the catalog in the platform DB of ``rt``."""
    catalog = Catalog(rt)
    app = FastAPI(
        title="govlake data catalog",
        description="Published information resources: their schema, lineage and quality.",
        version="1",
    )

    @app.get("/resources")
    def list_resources(
        department: str | None = None,
        category: str | None = None,
        classification: str | None = None,
        sharing: str | None = None,
        published_only: bool = True,
    ) -> list[dict[str, Any]]:
        """Catalogue records, filtered."""
        chosen = Filters(
            department=department,
            category=category,
            classification=classification,
            sharing=sharing,
            published_only=published_only,
        )
        return [resource_record(e) for e in catalog.entries(chosen)]

    @app.get("/resources/{code}")
    def show_resource(code: str, published_only: bool = True) -> dict[str, Any]:
        """One resource: its record, lineage and workflow history."""
        try:
            entry = catalog.resource(code, published=published_only)
        except GovlakeError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None
        return {
            **resource_record(entry),
            "lineage": entry.state.lineage.model_dump(mode="json"),
            "history": [
                {
                    k: getattr(e, k)
                    for k in ("version", "action", "to_status", "actor", "comment", "at")
                }
                for e in catalog.events(code)
            ],
        }

    @app.get("/search")
    def search(
        q: Annotated[str, Query(min_length=1, description="Words, Chinese or not.")],
        limit: Annotated[int, Query(ge=1, le=200)] = 20,
        published_only: bool = True,
    ) -> list[dict[str, Any]]:
        """Resources matching every word of ``q``, best first."""
        found = catalog.search(q, Filters(published_only=published_only), limit)
        return [{**resource_record(e), "rank": e.rank} for e in found]

    @app.get("/export")
    def export(published_only: bool = True) -> dict[str, Any]:
        """The catalogue document (schema: ``catalog/export.schema.json``)."""
        return export_document(catalog, published_only=published_only)

    return app
