"""The refusals the HTTP apps answer with, as their OpenAPI documents describe them.

Every refusal has the body ``{"detail": "<one line saying why>"}`` (:class:`Refusal`);
:func:`refusals` gives the ``responses`` entries of the statuses a route may answer with, so
a client (or a schema-driven fuzzer) knows each answer in advance. The 422 of a malformed
parameter is FastAPI's own, documented by FastAPI.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Refusal(BaseModel):
    """Why the request was not served."""

    detail: str


_MEANING = {
    400: "A value the route cannot take: a filter, fields, page or cursor the grant does not "
    "allow, or a delivery that cannot be resent.",
    401: "No bearer token, or one that is malformed, forged, expired or revoked.",
    403: "The caller may not read this (no right, no grant in force, or no such resource).",
    404: "No such resource or record.",
    429: "The grant's quota is spent for now.",
    503: "The audit key (or, for exports, the share URL key) is not configured: what cannot be "
    "recorded or signed is not served.",
}
_HEADERS = {
    401: {
        "WWW-Authenticate": {
            "description": "The scheme to sign in with: Bearer.",
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds until the quota allows another call.",
            "schema": {"type": "integer"},
        }
    },
}


def refusals(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI responses of ``statuses``: their meaning, body and headers."""
    return {
        status: {"model": Refusal, "description": _MEANING[status]}
        | ({"headers": _HEADERS[status]} if status in _HEADERS else {})
        for status in statuses
    }
