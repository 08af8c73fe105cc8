"""Request bodies read only once the caller is known.

FastAPI validates a declared body before the route's dependencies have run, so a request
without a valid token would learn from a 422 what the body must hold. A route that takes its
body through :func:`parsed` after the caller's dependency answers such a request 401, and a
signed-in caller's invalid body FastAPI's own 422, naming the field. :func:`documented` keeps
the body's schema, and its 422, in the OpenAPI document.
"""

from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)


def parsed(model: type[Model], raw: bytes) -> Model:
    """``raw`` as ``model``, or FastAPI's 422 naming each field that fails."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        # Not the input: a body that is not UTF-8 cannot be quoted back as JSON.
        errors = [{"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"]}
                  for e in exc.errors(include_url=False)]  # fmt: skip
        raise RequestValidationError(errors) from None


def documented(model: type[BaseModel]) -> dict[str, Any]:
    """The ``openapi_extra`` of a route whose required JSON body is ``model``, and its 422."""
    schema = {"application/json": {"schema": model.model_json_schema()}}
    invalid = {"application/json": {"schema": {"$ref": VALIDATION_ERROR}}}
    return {
        "requestBody": {"required": True, "content": schema},
        "responses": {"422": {"description": "A body that is not valid.", "content": invalid}},
    }


VALIDATION_ERROR = "#/components/schemas/HTTPValidationError"  # FastAPI's, of every other 422
