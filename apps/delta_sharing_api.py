"""The share interface (共享接口): a Delta Sharing protocol server over the per-grant share tables.

Under ``/delta-sharing`` (the ``endpoint`` of the profile files ``govlake applications
profile`` writes) it answers the protocol's REST calls (PROTOCOL.md of delta-io/delta-sharing)
in the ``parquet`` response format: the token's one share (named after the application), its
schema (the dataset's zone) and table, the table's version, metadata, a snapshot query
(``version``, ``limitHint``, ``predicateHints`` and ``jsonPredicateHints`` as best effort) and
the change data feed. Every call needs the share token of a grant in force (401 for an unknown
token, 403 once the grant is revoked, expired or out of its period); the query and the change
feed count against the grant's quota (429) and are each one ``data.read`` audit row with the
files and rows returned. File addresses point at ``/delta-sharing/files/...``: signed, expiring
in 15 minutes, answering HEAD and Range requests, and refusing (403) a changed address, an
expired one, a grant no longer in force and any path outside the grant's share table.
(No postponed annotations: FastAPI reads the routes' annotations at run time.)
"""

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import pyarrow.parquet as pq
from deltalake import DeltaTable
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi import Path as FastPath
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from catalog.sharing import file_hints, grants, share_tables, share_tokens, usage
from catalog.sharing.grants import ShareGrant
from catalog.sharing.share_tables import ShareFile
from catalog.sharing.signed_urls import FileAddress, UrlRefused, checked, expiry, signed_url
from govlake.errors import GovlakeError
from govlake.principal import Principal
from govlake.runtime import Runtime
from services.identity import trail
from services.identity.policy import AccessDenied
from services.identity.settings import utc_now

PREFIX = "/delta-sharing"
VERSION_HEADER = "Delta-Table-Version"
NDJSON = "application/x-ndjson; charset=utf-8"
_scheme = HTTPBearer(auto_error=False, description="The bearer token of a share profile file.")


class SharingFailure(BaseModel):
    """A refusal as the protocol words it."""

    errorCode: str  # noqa: N815
    message: str


FAILURES: dict[int | str, dict[str, Any]] = {
    status: {"model": SharingFailure, "description": meaning}
    for status, meaning in {
        400: "A parameter or body the share interface cannot take (INVALID_PARAMETER_VALUE).",
        401: "No share token, or one that names no grant (UNAUTHENTICATED).",
        403: "The grant is not in force, the share is another's, or the file address is not "
        "validly signed (PERMISSION_DENIED).",
        404: "No such share, schema, table or file (RESOURCE_DOES_NOT_EXIST).",
        429: "The grant's quota is spent for now (RESOURCE_EXHAUSTED).",
        503: "The server has no key to sign file addresses with (INTERNAL_ERROR).",
    }.items()
}


class SharingError(Exception):
    """A refusal in the protocol's error shape: ``{"errorCode": ..., "message": ...}``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


@dataclass(frozen=True)
class Holder:
    """Who calls (the token's user), with which grant, and the names of its one share."""

    principal: Principal
    grant: ShareGrant

    @property
    def share(self) -> str:
        """The share's name: the application's code, in lower case."""
        return self.grant.application.lower()

    @property
    def schema(self) -> str:
        """The schema's name: the dataset's zone."""
        return self.grant.dataset.partition(".")[0]

    @property
    def table(self) -> str:
        """The table's name: the dataset's name."""
        return self.grant.dataset.partition(".")[2]


class QueryBody(BaseModel):
    """The body of a table query; unknown fields are ignored, as the protocol evolves."""

    model_config = ConfigDict(extra="ignore")

    predicateHints: list[str] | None = None  # noqa: N815 (the protocol's names)
    jsonPredicateHints: str | None = None  # noqa: N815
    limitHint: int | None = Field(default=None, ge=0)  # noqa: N815
    version: int | None = Field(default=None, ge=0)
    timestamp: str | None = None
    startingVersion: int | None = None  # noqa: N815


def install(app: FastAPI, rt: Runtime) -> None:
    """Serve the share interface from ``app``, with the protocol's error bodies."""

    async def refusal(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, SharingError)
        body = {"errorCode": exc.code, "message": exc.message}
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    app.add_exception_handler(SharingError, refusal)
    app.include_router(routes(rt))


def routes(rt: Runtime) -> APIRouter:
    """The protocol's routes and the signed file route."""
    router = APIRouter(prefix=PREFIX, tags=["delta sharing"], responses=FAILURES)
    holder = _holder_of(rt)
    _listings(router, rt, holder)
    _table_reads(router, rt, holder)
    _files(router, rt)
    return router


def _holder_of(rt: Runtime) -> Callable[..., Holder]:
    """The dependency giving a request's share token holder: 401 or 403 otherwise."""

    def holder(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_scheme)],
    ) -> Holder:
        if credentials is None:
            raise SharingError(401, "UNAUTHENTICATED", "a bearer token is needed")
        try:
            principal, grant = share_tokens.holder(rt, credentials.credentials)
        except share_tokens.TokenUnknown as exc:
            raise SharingError(401, "UNAUTHENTICATED", str(exc)) from None
        request.state.principal = principal
        try:
            share_tokens.in_force(rt, principal, grant, utc_now())
        except AccessDenied as exc:
            raise SharingError(403, "PERMISSION_DENIED", str(exc)) from None
        return Holder(principal, grant)

    return holder


def _listings(router: APIRouter, rt: Runtime, holder: Callable[..., Holder]) -> None:
    """The share, its schema and its table."""
    Caller = Annotated[Holder, Depends(holder)]

    @router.get("/shares")
    def list_shares(caller: Caller) -> dict[str, Any]:
        """The one share the token reaches."""
        return {"items": [_share(caller)]}

    @router.get("/shares/{share}")
    def get_share(caller: Caller, share: str) -> dict[str, Any]:
        """The share, by name."""
        _in_share(rt, caller, share)
        return {"share": _share(caller)}

    @router.get("/shares/{share}/schemas")
    def list_schemas(caller: Caller, share: str) -> dict[str, Any]:
        """The share's one schema."""
        _in_share(rt, caller, share)
        return {"items": [{"name": caller.schema, "share": caller.share}]}

    @router.get("/shares/{share}/schemas/{schema}/tables")
    def list_tables(caller: Caller, share: str, schema: str) -> dict[str, Any]:
        """The schema's one table."""
        _in_share(rt, caller, share, schema)
        return {"items": [_table(caller)]}

    @router.get("/shares/{share}/all-tables")
    def list_all_tables(caller: Caller, share: str) -> dict[str, Any]:
        """Every table of the share: one."""
        _in_share(rt, caller, share)
        return {"items": [_table(caller)]}


def _table_reads(router: APIRouter, rt: Runtime, holder: Callable[..., Holder]) -> None:
    """The table's version, metadata, snapshot query and change data feed."""
    Caller = Annotated[Holder, Depends(holder)]

    @router.get("/shares/{share}/schemas/{schema}/tables/{table}/version")
    def table_version(
        caller: Caller, share: str, schema: str, table: str, startingTimestamp: str | None = None
    ) -> Response:
        """The share table's current version, in the header."""
        _in_share(rt, caller, share, schema, table)
        _unsupported(startingTimestamp, "startingTimestamp")
        current = _refreshed(rt, caller)
        return Response(status_code=200, headers={VERSION_HEADER: str(current.version())})

    @router.get("/shares/{share}/schemas/{schema}/tables/{table}/metadata")
    def table_metadata(
        caller: Caller, share: str, schema: str, table: str, version: int | None = None
    ) -> Response:
        """The protocol and metadata lines of the share table (at ``version``)."""
        _in_share(rt, caller, share, schema, table)
        shown = _at(rt, caller, version)
        return _ndjson([_protocol(), _metadata(shown)], shown.version())

    @router.post("/shares/{share}/schemas/{schema}/tables/{table}/query")
    async def query_table(
        caller: Caller, share: str, schema: str, table: str, request: Request
    ) -> Response:
        """The files of the share table's snapshot, as hinted, with signed addresses."""
        _in_share(rt, caller, share, schema, table)
        body = _body(await request.body())
        _unsupported(body.timestamp, "timestamp")
        _unsupported(body.startingVersion, "startingVersion (read the change data feed)")
        _count(rt, caller)
        shown = _at(rt, caller, body.version)
        files = file_hints.chosen(share_tables.snapshot(shown), body.predicateHints,
                                  body.jsonPredicateHints, body.limitHint)  # fmt: skip
        lines = [_protocol(), _metadata(shown)]
        lines += [{"file": _file(request, caller, f)} for f in files]
        rows = sum(f.rows or 0 for f in files)
        _read(rt, caller, "query", shown.version(), files, rows)
        return _ndjson(lines, shown.version())

    @router.get("/shares/{share}/schemas/{schema}/tables/{table}/changes")
    def table_changes(
        caller: Caller,
        share: str,
        schema: str,
        table: str,
        request: Request,
        startingVersion: Annotated[int | None, Query(ge=0)] = None,
        endingVersion: Annotated[int | None, Query(ge=0)] = None,
        startingTimestamp: str | None = None,
        endingTimestamp: str | None = None,
    ) -> Response:
        """The change files of the share table from ``startingVersion`` to ``endingVersion``."""
        _in_share(rt, caller, share, schema, table)
        _unsupported(startingTimestamp, "startingTimestamp")
        _unsupported(endingTimestamp, "endingTimestamp")
        if startingVersion is None:
            raise SharingError(400, "INVALID_PARAMETER_VALUE", "startingVersion is needed")
        _count(rt, caller)
        current = _refreshed(rt, caller)
        end = current.version() if endingVersion is None else endingVersion
        if not startingVersion <= end <= current.version():
            raise SharingError(400, "INVALID_PARAMETER_VALUE",
                               f"versions {startingVersion} to {end} are not in the table's "
                               f"0 to {current.version()}")  # fmt: skip
        root = share_tables.location(rt, caller.grant)
        files = share_tables.changes(root, startingVersion, end)
        lines = [_protocol(), _metadata(current)]
        lines += [{f.kind: _file(request, caller, f)} for f in files]
        rows = sum(pq.read_metadata(root / f.path).num_rows for f in files)
        _read(rt, caller, "changes", end, files, rows)
        return _ndjson(lines, startingVersion)


def _files(router: APIRouter, rt: Runtime) -> None:
    """The signed file route, for GET and HEAD, whole or by Range."""
    route = "/files/{grant_id}/{path:path}"

    @router.get(route, operation_id="shared_file")
    def shared_file(
        request: Request,
        grant_id: Annotated[int, FastPath(ge=1, le=2**31 - 1)],
        path: str,
        holder: str,
        expires: int,
        signature: str,
    ) -> Response:
        """A file of a share table, whole or by ``Range``, for a signed, unexpired address."""
        request.state.principal = holder
        address = FileAddress(grant_id, path, holder, expires)
        now = utc_now()
        try:
            checked(address, signature, now)
        except UrlRefused as exc:
            raise SharingError(403, "PERMISSION_DENIED", str(exc)) from None
        with rt.platform_db.connect() as conn:
            grant = grants.by_id(conn, grant_id)
        if grant is None or not grant.in_force(now):
            raise SharingError(403, "PERMISSION_DENIED", "the grant is no longer in force")
        root = share_tables.location(rt, grant).resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            raise SharingError(404, "RESOURCE_DOES_NOT_EXIST", f"no file {path!r} in the share")
        return FileResponse(target, media_type="application/octet-stream")

    router.add_api_route(route, shared_file, methods=["HEAD"], operation_id="shared_file_head")


def _in_share(
    rt: Runtime, caller: Holder, share: str, schema: str | None = None, table: str | None = None
) -> None:
    """Refuse a share the token does not reach (403), a schema or table not in it (404)."""
    if share.lower() != caller.share:
        reason = f"the token reaches share {caller.share}, not {share}"
        trail.write(rt, caller.principal, "access.denied", f"share:{share}", "refused",
                    {"verb": "read_data", "mode": share_tokens.MODE, "reason": reason})  # fmt: skip
        raise SharingError(403, "PERMISSION_DENIED", reason)
    if schema is not None and schema.lower() != caller.schema:
        raise SharingError(404, "RESOURCE_DOES_NOT_EXIST", f"no schema {schema} in {share}")
    if table is not None and table.lower() != caller.table:
        raise SharingError(404, "RESOURCE_DOES_NOT_EXIST", f"no table {table} in {share}")


def _refreshed(rt: Runtime, caller: Holder) -> DeltaTable:
    try:
        return share_tables.refreshed(rt.acting_as(caller.principal), caller.grant)
    except GovlakeError as exc:
        raise SharingError(500, "INTERNAL_ERROR", str(exc)) from None


def _at(rt: Runtime, caller: Holder, version: int | None) -> DeltaTable:
    """The share table, refreshed, loaded at ``version`` when one is asked for."""
    current = _refreshed(rt, caller)
    if version is None:
        return current
    if version > current.version():
        reason = f"version {version} is after the table's {current.version()}"
        raise SharingError(400, "INVALID_PARAMETER_VALUE", reason)
    current.load_as_version(version)
    return current


def _count(rt: Runtime, caller: Holder) -> None:
    try:
        usage.count_call(rt, caller.grant, caller.principal, utc_now())
    except usage.QuotaExceeded as exc:
        raise SharingError(429, "RESOURCE_EXHAUSTED", str(exc),
                           {"Retry-After": str(exc.retry_after)}) from None  # fmt: skip


def _read(
    rt: Runtime, caller: Holder, call: str, version: int, files: list[ShareFile], rows: int
) -> None:
    grant = caller.grant
    details = {"mode": share_tokens.MODE, "call": call, "grant": grant.id,
               "application": grant.application, "table": grant.dataset, "version": version,
               "files": len(files), "rows": rows}  # fmt: skip
    trail.write(rt, caller.principal, "data.read", f"catalog:{grant.resource}", "success", details)
    usage.add_rows(rt, grant, caller.principal, utc_now(), rows)


def _body(raw: bytes) -> QueryBody:
    try:
        return QueryBody.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise SharingError(400, "INVALID_PARAMETER_VALUE", f"{where}: {first['msg']}") from None


def _unsupported(value: object, name: str) -> None:
    if value is not None:
        raise SharingError(400, "INVALID_PARAMETER_VALUE", f"{name} is not supported here")


def _share(caller: Holder) -> dict[str, Any]:
    return {"name": caller.share, "id": f"grant-{caller.grant.id}"}


def _table(caller: Holder) -> dict[str, Any]:
    return {"name": caller.table, "schema": caller.schema, "share": caller.share,
            "shareId": f"grant-{caller.grant.id}"}  # fmt: skip


def _protocol() -> dict[str, Any]:
    return {"protocol": {"minReaderVersion": 1}}


def _metadata(table: DeltaTable) -> dict[str, Any]:
    meta = table.metadata()
    return {"metaData": {
        "id": meta.id, "format": {"provider": "parquet"}, "schemaString": table.schema().to_json(),
        "partitionColumns": list(meta.partition_columns),
        "configuration": {"enableChangeDataFeed": "true"},
    }}  # fmt: skip


def _file(request: Request, caller: Holder, found: ShareFile) -> dict[str, Any]:
    expires = expiry(utc_now())
    address = FileAddress(caller.grant.id, found.path, caller.principal.username, expires)
    base = str(request.base_url).rstrip("/") + PREFIX
    try:
        url = signed_url(base, address)
    except GovlakeError as exc:  # no signing key: the server's configuration, not the caller's
        raise SharingError(503, "INTERNAL_ERROR", str(exc)) from None
    line: dict[str, Any] = {
        "url": url,
        "id": hashlib.sha256(found.path.encode()).hexdigest()[:32],
        "partitionValues": {},
        "size": found.size,
        "expirationTimestamp": expires * 1000,
    }
    if found.stats:
        line["stats"] = json.dumps(found.stats, default=str)
    if found.version is not None:
        line.update(version=found.version, timestamp=found.timestamp)
    return line


def _ndjson(lines: Iterable[dict[str, Any]], version: int) -> Response:
    def encoded() -> Iterator[bytes]:
        for line in lines:
            yield (json.dumps(line, default=str, ensure_ascii=False) + "\n").encode()

    return StreamingResponse(encoded(), media_type=NDJSON, headers={VERSION_HEADER: str(version)})
