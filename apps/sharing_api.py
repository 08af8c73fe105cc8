"""The query share modes over HTTP: one record by key, pages of records, the service API.

``GET /v1/resources/{code}/records/{key}`` is the single query (资源单项查询); ``GET
/v1/resources/{code}/records`` the composite query (综合查询: ``filter`` in the row-filter
language over granted columns, ``fields``, ``limit`` up to 1000, ``cursor`` for the next page,
in key order); ``/v1/resources/{code}/service/records`` the service API (服务接口): typed
records, described for the caller's grant by ``/v1/resources/{code}/service/openapi.json``.
Each needs a bearer token and a grant in force for the caller's organisation in that mode
(:mod:`catalog.sharing.reads`): 403 without one (an unknown code answers the same), 429 with
``Retry-After`` past the grant's quota, 400 for a filter, field, page or cursor it may not ask
for. ``POST /v1/composite`` is the composite query over several resources joined on shared
keys (:mod:`catalog.sharing.composite`): a read, posted because the query is a document; the
same answers, each resource needing its own grant. (No postponed annotations: FastAPI reads the
routes' annotations at run time.)
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from apps.api_body import documented, parsed
from apps.api_responses import refusals
from catalog.sharing.composite import MAX_RESOURCES, MAX_SORT, Composite, composite_read
from catalog.sharing.reads import MAX_PAGE, BadSelection, Selection, granted, read
from catalog.sharing.service_schema import openapi, typed
from catalog.sharing.terms import ShareMode
from catalog.sharing.usage import QuotaExceeded
from govlake.principal import Principal
from govlake.runtime import Runtime
from services.identity.policy import AccessDenied


def share_routes(rt: Runtime, signed_in: Callable[..., Principal]) -> APIRouter:
    """The routes of the query share modes, for the principals ``signed_in`` gives."""
    router = APIRouter(prefix="/v1/resources", tags=["sharing"], responses=refusals(400, 403, 429))
    Caller = Annotated[Principal, Depends(signed_in)]

    @router.get("/{code}/records/{key}", responses=refusals(404))
    def single_record(caller: Caller, code: str, key: str) -> Any:
        """One record of resource ``code`` by its key (a single-key resource)."""
        found = _page(rt, caller, code, "single_query", Selection(record=key, limit=1))
        rows = found["rows"]
        if not rows:
            raise HTTPException(status_code=404, detail=f"no record {key!r} in {code}")
        return rows[0]

    @router.get("/{code}/records")
    def records(caller: Caller, code: str, selection: Paged) -> Any:
        """A page of records of resource ``code``, filtered, in key order."""
        return _page(rt, caller, code, "composite_query", selection)

    @router.get("/{code}/service/openapi.json", include_in_schema=False)
    def service_document(caller: Caller, code: str, request: Request) -> Any:
        """The OpenAPI document of resource ``code``'s service endpoint, for the caller's grant."""
        try:
            entry, grant = granted(rt.acting_as(caller), code, "service_api")
        except AccessDenied as exc:
            raise HTTPException(status_code=403, detail=str(exc)) from None
        return openapi(entry, grant, str(request.base_url).rstrip("/"))

    @router.get("/{code}/service/records")
    def service_records(caller: Caller, code: str, selection: Paged) -> Any:
        """The service API of resource ``code``: typed records (its schema: ``openapi.json``)."""
        page = _page(rt, caller, code, "service_api", selection)
        page["rows"] = [{k: typed(v) for k, v in row.items()} for row in page["rows"]]
        return page

    return router


def _paged(
    filter: Annotated[str | None, Query(max_length=2000)] = None,
    fields: Annotated[str | None, Query(description="Comma-separated granted columns.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(max_length=4000)] = None,
) -> Selection:
    """The page a request asks for: its filter, fields, size and cursor."""
    chosen = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
    return Selection(where=filter, fields=chosen, limit=limit, cursor=cursor)


Paged = Annotated[Selection, Depends(_paged)]


def _page(rt: Runtime, caller: Principal, code: str, mode: ShareMode, selection: Selection) -> Any:
    with _answered():
        page = read(rt.acting_as(caller), code, mode, selection)
    return {"rows": page.rows.to_pylist(), "next_cursor": page.next_cursor}


@contextmanager
def _answered() -> Iterator[None]:
    """A refusal as its HTTP answer: 403 ungranted, 429 past the quota, 400 a bad selection."""
    try:
        yield
    except AccessDenied as exc:
        raise HTTPException(status_code=403, detail=str(exc)) from None
    except QuotaExceeded as exc:
        headers = {"Retry-After": str(exc.retry_after)}
        raise HTTPException(status_code=429, detail=str(exc), headers=headers) from None
    except BadSelection as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None


Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class CompositeQuery(BaseModel):
    """A composite query: columns are named by resource code, ``GL-000001.uscc``."""

    model_config = ConfigDict(extra="forbid")

    resources: list[Name] = Field(
        min_length=1, max_length=MAX_RESOURCES, description="Codes of granted resources."
    )
    on: list[Annotated[str, StringConstraints(max_length=400)]] = Field(
        default_factory=list,
        max_length=16,
        description="Join pairs `A.x = B.y`; none: each resource joins the first on its keys.",
    )
    fields: list[Name] | None = Field(
        default=None, max_length=500, description="Qualified granted columns; none: all."
    )
    filter: str | None = Field(
        default=None, max_length=2000, description='Row filter, e.g. `"GL-000001".status = 1`.'
    )
    sort: list[Name] = Field(
        default_factory=list,
        max_length=MAX_SORT,
        description="Qualified granted columns, `-` first for descending; then the keys.",
    )
    limit: int = Field(default=100, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(default=None, max_length=4000)


def composite_routes(rt: Runtime, signed_in: Callable[..., Principal]) -> APIRouter:
    """The composite query over several resources, for the principals ``signed_in`` gives."""
    router = APIRouter(prefix="/v1", tags=["sharing"], responses=refusals(400, 403, 429))
    Caller = Annotated[Principal, Depends(signed_in)]

    @router.post("/composite", openapi_extra=documented(CompositeQuery))
    async def composite(caller: Caller, request: Request) -> Any:
        """A page of granted resources joined on shared keys, filtered and sorted.

        The body is read once the caller is known: without a valid token, a 401 whatever it is.
        """
        query = parsed(CompositeQuery, await request.body())
        asked = Composite(
            resources=query.resources,
            on=query.on,
            fields=query.fields,
            where=query.filter,
            sort=query.sort,
            limit=query.limit,
            cursor=query.cursor,
        )
        with _answered():
            page = await run_in_threadpool(composite_read, rt.acting_as(caller), asked)
        return {"rows": page.rows.to_pylist(), "next_cursor": page.next_cursor}

    return router
