"""Who calls an HTTP app, and the audit row of every request.

:func:`bearer` is the dependency that turns ``Authorization: Bearer <token>`` into the
principal, verified by the identity service now (its user active, the token not revoked): no
token, a malformed, forged, expired or revoked one, or one of a locked or disabled user is a 401
with ``WWW-Authenticate: Bearer``. :func:`log_requests` writes one audit row per request, after
its response is made (principal or ``anonymous``, method and route, status, duration_ms); a
request is not served at all when the audit key is not configured.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from govlake.errors import GovlakeError
from govlake.principal import Principal
from govlake.runtime import Runtime
from services.audit import Outcome
from services.identity import authentication, trail
from services.identity.tokens import TokenRejected

ACCESS = "api.request"
_scheme = HTTPBearer(auto_error=False, description="The token of govlake login.")


def bearer(rt: Runtime) -> Callable[..., Principal]:
    """The dependency giving the principal of the request's bearer token, or a 401."""

    def principal(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_scheme)],
    ) -> Principal:
        if credentials is None:
            raise _unauthorized("a bearer token is needed (Authorization: Bearer <token>)")
        try:
            found = authentication.verify(rt, credentials.credentials, client=client_of(request))
        except TokenRejected as exc:
            raise _unauthorized(str(exc)) from None
        request.state.principal = found
        return found

    return principal


def log_requests(app: FastAPI, rt: Runtime) -> None:
    """Record every request to ``app`` in the audit ledger once its response is made."""

    @app.middleware("http")
    async def access_log(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        try:
            trail.ready()
        except GovlakeError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=503)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            await run_in_threadpool(_record, rt, request, 500, started)
            raise
        await run_in_threadpool(_record, rt, request, response.status_code, started)
        return response


def client_of(request: Request) -> str | None:
    """The caller's address, as the server saw it."""
    return request.client.host if request.client else None


def _record(rt: Runtime, request: Request, status: int, started: float) -> None:
    route = getattr(request.scope.get("route"), "path", None)
    details = {
        "method": request.method,
        "route": route,
        "query": _without_signature(request),
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
    }
    outcome: Outcome = "success" if status < 400 else "refused" if status < 500 else "failed"
    who = getattr(request.state, "principal", None)
    trail.write(rt, who, ACCESS, request.url.path, outcome, details, client=client_of(request))


def _without_signature(request: Request) -> str:
    """The query string, a signed address's signature left out (it is a credential)."""
    params = request.query_params.multi_items()
    return urlencode([(k, "-" if k == "signature" else v) for k, v in params])


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(status_code=401, detail=reason, headers={"WWW-Authenticate": "Bearer"})
