"""The file download share mode (文件下载) over HTTP: ask for an export, fetch it by signed URL.

``POST /v1/resources/{code}/exports`` with ``{"format": "csv"|"parquet"|"xlsx", "encoding":
"utf-8"|"gbk", "filter": ..., "fields": [...]}`` writes the caller's grant in ``file_download``
as a file and its manifest (:mod:`catalog.sharing.exports`) and answers their signed URLs,
which expire in 15 minutes (``expires_at``). ``GET`` (or ``HEAD``, whole or by ``Range``)
``/v1/exports/{grant}/{export}/{file}`` serves a file to the user it was issued to: the bearer
token of that user and a valid signature are both needed, and the grant must still be in
force, so a revoked or expired grant stops the next download even with an unexpired URL. A
changed signature, an expired URL, another user's URL and a path outside the export are 403;
an export already cleaned up, 404. (No postponed annotations: FastAPI reads the routes'
annotations at run time.)
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi import Path as FastPath
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from apps.api_body import documented, parsed
from apps.api_responses import refusals
from catalog.sharing import exports
from catalog.sharing.exports import Asked, ExportRefused
from catalog.sharing.reads import BadSelection
from catalog.sharing.signed_urls import FileAddress, UrlRefused, signed_url, url_key
from catalog.sharing.usage import QuotaExceeded
from govlake.errors import GovlakeError
from govlake.principal import Principal
from govlake.runtime import Runtime
from services.identity.policy import AccessDenied

MEDIA = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "json": "application/json"}  # fmt: skip


def export_routes(rt: Runtime, signed_in: Callable[..., Principal]) -> APIRouter:
    """The routes of the file download mode, for the principals ``signed_in`` gives."""
    router = APIRouter(prefix="/v1", tags=["sharing"], responses=refusals(403))
    Caller = Annotated[Principal, Depends(signed_in)]

    @router.post("/resources/{code}/exports", status_code=201, responses=refusals(400, 429),
                 openapi_extra=documented(Asked))  # fmt: skip
    async def create_export(caller: Caller, code: str, request: Request) -> Any:
        """Export the caller's grant on resource ``code`` as a file; its signed URLs.

        The body is read once the caller is known: without a valid token nothing of it is
        looked at (a 401, not a 422).
        """
        asked = parsed(Asked, await request.body())
        try:
            url_key()  # no export is written that could not be fetched
        except GovlakeError as exc:
            raise HTTPException(status_code=503, detail=str(exc)) from None
        try:
            done = await run_in_threadpool(exports.export, rt.acting_as(caller), code, asked)
        except AccessDenied as exc:
            raise HTTPException(status_code=403, detail=str(exc)) from None
        except QuotaExceeded as exc:
            headers = {"Retry-After": str(exc.retry_after)}
            raise HTTPException(status_code=429, detail=str(exc), headers=headers) from None
        except (BadSelection, ExportRefused) as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        base = str(request.base_url).rstrip("/") + "/v1"
        urls = [signed_url(base, done.address(name)) for name in done.files]
        return {"export": done.id, "grant": done.grant.id, "rows": done.rows,
                "manifest_url": urls[-1], "files": urls[:-1],
                "expires_at": datetime.fromtimestamp(done.expires, UTC).isoformat()}  # fmt: skip

    route = "/exports/{grant_id}/{path:path}"

    @router.get(route, operation_id="export_file", responses=refusals(404))
    def export_file(
        caller: Caller,
        grant_id: Annotated[int, FastPath(ge=1, le=2**31 - 1)],
        path: str,
        holder: str,
        expires: int,
        signature: str,
    ) -> Response:
        """A file of an export, whole or by ``Range``, for its holder, with a signed URL."""
        address = FileAddress(grant_id, path, holder, expires, exports.ROUTE)
        try:
            found = exports.fetched(rt.acting_as(caller), address, signature)
        except (UrlRefused, AccessDenied) as exc:
            raise HTTPException(status_code=403, detail=str(exc)) from None
        except FileNotFoundError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None
        except GovlakeError as exc:  # the signing key is not configured
            raise HTTPException(status_code=503, detail=str(exc)) from None
        media = MEDIA[found.suffix.lstrip(".")]
        return FileResponse(found, media_type=media, filename=found.name)

    router.add_api_route(route, export_file, methods=["HEAD"], operation_id="export_file_head",
                         responses=refusals(404))  # fmt: skip
    return router
