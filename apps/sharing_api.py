"""The query share modes over HTTP: one record by key, and filtered pages of records.

``GET /v1/resources/{code}/records/{key}`` is the single query (资源单项查询); ``GET
/v1/resources/{code}/records`` the composite query (综合查询: ``filter`` in the row-filter
language over granted columns, ``fields``, ``limit`` up to 1000, ``cursor`` for the next page,
in key order). Both need a bearer token and a grant in force for the caller's organisation in
that mode (:mod:`catalog.sharing.reads`): 403 without one (an unknown code answers the same), 429
with ``Retry-After`` past the grant's quota, 400 for a filter, field, page or cursor it may not
ask for. (No postponed annotations: FastAPI reads the routes' annotations at run time.)
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query

from catalog.sharing.reads import MAX_PAGE, BadSelection, QuotaExceeded, Selection, read
from catalog.sharing.terms import ShareMode
from govlake.principal import Principal
from govlake.runtime import Runtime
from services.identity.policy import AccessDenied


def share_routes(rt: Runtime, signed_in: Callable[..., Principal]) -> APIRouter:
    """The routes of the query share modes, for the principals ``signed_in`` gives."""
    router = APIRouter(prefix="/v1/resources", tags=["sharing"])
    Caller = Annotated[Principal, Depends(signed_in)]

    @router.get("/{code}/records/{key}")
    def single_record(caller: Caller, code: str, key: str) -> Any:
        """One record of resource ``code`` by its key (a single-key resource)."""
        found = _page(rt, caller, code, "single_query", Selection(record=key, limit=1))
        rows = found["rows"]
        if not rows:
            raise HTTPException(status_code=404, detail=f"no record {key!r} in {code}")
        return rows[0]

    @router.get("/{code}/records")
    def records(
        caller: Caller,
        code: str,
        filter: Annotated[str | None, Query(max_length=2000)] = None,
        fields: Annotated[str | None, Query(description="Comma-separated granted columns.")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        cursor: Annotated[str | None, Query(max_length=4000)] = None,
    ) -> Any:
        """A page of records of resource ``code``, filtered, in key order."""
        chosen = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
        selection = Selection(where=filter, fields=chosen, limit=limit, cursor=cursor)
        return _page(rt, caller, code, "composite_query", selection)

    return router


def _page(rt: Runtime, caller: Principal, code: str, mode: ShareMode, selection: Selection) -> Any:
    try:
        page = read(rt.acting_as(caller), code, mode, selection)
    except AccessDenied as exc:
        raise HTTPException(status_code=403, detail=str(exc)) from None
    except QuotaExceeded as exc:
        headers = {"Retry-After": str(exc.retry_after)}
        raise HTTPException(status_code=429, detail=str(exc), headers=headers) from None
    except BadSelection as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return {"rows": page.rows.to_pylist(), "next_cursor": page.next_cursor}
