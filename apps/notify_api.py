"""The message service over HTTP: the send log, pending deliveries, resends, the inbox.

``GET /v1/notify/log`` (``status``, ``channel``, ``since``, ``limit``) and ``GET
/v1/notify/pending`` need ``read_messages``; ``POST /v1/notify/deliveries/{id}/resend`` needs
``send_messages`` (403 otherwise, 400 for a delivery that cannot be resent); ``GET
/v1/notify/inbox`` and ``POST /v1/notify/inbox/{id}/read`` are the caller's own messages (404
for another's). Each is audited by :mod:`services.notifications` as the CLI's commands are.
(No postponed annotations: FastAPI reads the routes' annotations at run time.)
"""

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from apps.api_responses import refusals
from govlake.errors import GovlakeError
from govlake.principal import Principal
from govlake.runtime import Runtime
from services.identity.policy import AccessDenied
from services.notifications import inbox, manage

# A row id of the platform DB: an integer column, so the range PostgreSQL holds.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# The values of DELIVERY_STATUSES and outbox.CHANNELS, spelt out for the OpenAPI document.
Status = Literal["pending", "sending", "sent", "failed", "dead"]
Channel = Literal["email", "webhook", "inbox"]


def notify_routes(rt: Runtime, signed_in: Callable[..., Principal]) -> APIRouter:
    """The routes of the message service, for the principals ``signed_in`` gives."""
    router = APIRouter(
        prefix="/v1/notify", tags=["notifications"], responses=refusals(400, 403, 404)
    )
    Caller = Annotated[Principal, Depends(signed_in)]

    @router.get("/log")
    def send_log(
        caller: Caller,
        status: Annotated[list[Status] | None, Query()] = None,
        channel: Channel | None = None,
        since: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[dict[str, Any]]:
        """Deliveries, newest first, with status, attempts, last error and resend link."""
        reader = rt.acting_as(caller)
        return _answer(lambda: [asdict(d) for d in manage.log(
            reader, status=status, channel=channel, since=since, limit=limit)])  # fmt: skip

    @router.get("/pending")
    def waiting(
        caller: Caller, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[dict[str, Any]]:
        """Deliveries not yet sent nor given up, at most ``limit``."""
        reader = rt.acting_as(caller)
        return _answer(lambda: [asdict(d) for d in manage.pending(reader, limit=limit)])

    @router.post("/deliveries/{delivery}/resend")
    def resend(caller: Caller, delivery: RowId) -> dict[str, Any]:
        """A new delivery of ``delivery``'s message, linked to it."""
        return _answer(lambda: asdict(manage.resend(rt.acting_as(caller), delivery)))

    @router.get("/inbox")
    def my_inbox(caller: Caller, unread: bool = False) -> list[dict[str, Any]]:
        """The caller's in-app messages, newest first."""
        return [asdict(i) for i in inbox.inbox(rt.acting_as(caller), unread=unread)]

    @router.post("/inbox/{delivery}/read")
    def read(caller: Caller, delivery: RowId) -> dict[str, Any]:
        """Mark one of the caller's in-app messages read."""
        try:
            inbox.mark_read(rt.acting_as(caller), delivery)
        except GovlakeError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None
        return {"id": delivery, "read": True}

    return router


def _answer(work: Callable[[], Any]) -> Any:
    try:
        return work()
    except AccessDenied as exc:
        raise HTTPException(status_code=403, detail=str(exc)) from None
    except GovlakeError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
