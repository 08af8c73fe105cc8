"""The catalog's read-only HTTP API (FastAPI): list, show, search and export, for the signed-in.

Every route needs ``Authorization: Bearer <token>`` (the token of ``govlake login``), verified by
the identity service (401 otherwise), and ``read_metadata`` on what it shows (403 otherwise). It
serves the published entries; with ``published_only=false`` also the unpublished versions of the
resources the caller may review or publish (:mod:`apps.catalog_view`). A query parameter the
route does not take, or one given twice, is a 422 (:mod:`apps.api_query`). Every request is an
audit row. Nothing here changes the catalog; the message service's routes are
:mod:`apps.notify_api`. The share interface (Delta Sharing) is served under ``/delta-sharing``
(:mod:`apps.delta_sharing_api`); its calls carry a share token instead. Exports of the file
download mode and their signed URLs are :mod:`apps.file_download_api`. Run it with ``govlake
catalog serve``; the OpenAPI document, with every answer of every route, is at
``/openapi.json``. (No postponed annotations here: FastAPI reads the routes' annotations, which
name dependencies local to :func:`create_app`, at run time.)
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query

from apps.api_access import bearer, log_requests
from apps.api_query import declared_only
from apps.api_responses import refusals
from apps.catalog_view import NotFound, View
from apps.delta_sharing_api import install as install_delta_sharing
from apps.file_download_api import export_routes
from apps.notify_api import notify_routes
from apps.sharing_api import composite_routes, share_routes
from catalog.export import catalogue_document, resource_record
from catalog.store import Catalog, Filters
from govlake.principal import Principal
from govlake.runtime import Runtime
from services.identity.policy import AccessDenied


def create_app(rt: Runtime) -> FastAPI:
    """The API over the catalog in the platform DB of ``rt``."""
    catalog = Catalog(rt)
    signed_in = bearer(rt)
    app = FastAPI(
        title="govlake data catalog",
        description="Published information resources: their schema, lineage and quality.",
        version="1",
    )
    log_requests(app, rt)
    # Every route but the share interface's (which takes share tokens) takes a user's token.
    guard, answers = [Depends(declared_only(signed_in))], refusals(401, 503)
    router = APIRouter(dependencies=guard, responses=answers)
    app.include_router(share_routes(rt, signed_in), dependencies=guard, responses=answers)
    app.include_router(composite_routes(rt, signed_in), dependencies=guard, responses=answers)
    app.include_router(export_routes(rt, signed_in), dependencies=guard, responses=answers)
    app.include_router(notify_routes(rt, signed_in), dependencies=guard, responses=answers)
    install_delta_sharing(app, rt)

    def view(principal: Annotated[Principal, Depends(signed_in)]) -> View:
        return View(catalog, principal)

    Reader = Annotated[View, Depends(view)]

    @router.get("/resources")
    def list_resources(
        reader: Reader,
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
        return [resource_record(e) for e in reader.entries(chosen)]

    @router.get("/resources/{code}", responses=refusals(403, 404))
    def show_resource(reader: Reader, code: str, published_only: bool = True) -> dict[str, Any]:
        """One resource: its record, lineage and workflow history."""
        try:
            entry = reader.resource(code, published_only=published_only)
        except NotFound as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None
        except AccessDenied as exc:
            raise HTTPException(status_code=403, detail=str(exc)) from None
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

    @router.get("/search")
    def search(
        reader: Reader,
        q: Annotated[str, Query(min_length=1, description="Words, Chinese or not.")],
        limit: Annotated[int, Query(ge=1, le=200)] = 20,
        published_only: bool = True,
    ) -> list[dict[str, Any]]:
        """Resources matching every word of ``q``, best first."""
        found = reader.search(q, Filters(published_only=published_only), limit)
        return [{**resource_record(e), "rank": e.rank} for e in found]

    @router.get("/export")
    def export(reader: Reader, published_only: bool = True) -> dict[str, Any]:
        """The catalogue document (schema: ``catalog/export.schema.json``)."""
        entries = reader.entries(Filters(published_only=published_only))
        return catalogue_document(entries, published_only=published_only)

    app.include_router(router)
    return app
