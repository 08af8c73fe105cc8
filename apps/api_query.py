"""A query string holds only the parameters its route declares, each once (a list, repeated).

FastAPI ignores a query parameter a route does not take and keeps the last of a repeated one,
so a misspelt filter (``?departmnet=tax``) silently widens an answer and ``?limit=1&limit=900``
means what the server picks. :func:`declared_only` refuses both with FastAPI's own 422 body,
naming the parameter. It asks for the caller first, so a request without a valid token learns
nothing of the routes' parameters: it is a 401. (No postponed annotations: FastAPI reads the
check's annotations, which name the local ``signed_in``, at run time.)
"""

from collections import Counter
from collections.abc import Callable
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Depends, Request
from fastapi.dependencies.utils import get_flat_dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from govlake.principal import Principal


def declared_only(signed_in: Callable[..., Principal]) -> Callable[..., None]:
    """The dependency refusing undeclared or repeated query parameters of signed-in requests."""

    def check(request: Request, _: Annotated[Principal, Depends(signed_in)]) -> None:
        route = request.scope.get("route")
        declared, lists = _query_names(route) if isinstance(route, APIRoute) else (set(), set())
        given = Counter(name for name, _ in request.query_params.multi_items())
        errors = _undeclared_or_repeated(given, declared, lists)
        if errors:
            raise RequestValidationError(errors)

    return check


def _query_names(route: APIRoute) -> tuple[set[str], set[str]]:
    """The route's query parameters, and those of them that take a list (may repeat)."""
    params = get_flat_dependant(route.dependant).query_params
    lists = {p.alias for p in params if _takes_a_list(p.field_info.annotation)}
    return {p.alias for p in params}, lists


def _takes_a_list(annotation: Any) -> bool:
    """Whether ``annotation`` is a list (or an optional one)."""
    if get_origin(annotation) in (list, tuple, set, frozenset):
        return True
    return get_origin(annotation) in (Union, UnionType) and any(
        _takes_a_list(a) for a in get_args(annotation)
    )


def _undeclared_or_repeated(
    given: Counter[str], declared: set[str], lists: set[str]
) -> list[dict[str, Any]]:
    errors = []
    takes = ", ".join(sorted(declared)) or "none"
    for name, times in given.items():
        if name not in declared:
            message = f"unknown query parameter {name!r}: this route takes {takes}"
            errors.append({"type": "extra_forbidden", "loc": ("query", name), "msg": message})
        elif times > 1 and name not in lists:
            message = f"query parameter {name!r} is given {times} times: give it once"
            errors.append({"type": "repeated", "loc": ("query", name), "msg": message})
    return errors
