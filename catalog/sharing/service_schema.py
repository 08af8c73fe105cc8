"""The service API of a granted resource: its OpenAPI document, typed by the granted columns.

Each resource shared by ``service_api`` gets its own endpoint,
``/v1/resources/{code}/service/records``, and its own OpenAPI 3.1 document, made for the
caller from its grant: the record schema holds the granted columns only, each with its JSON
type from the Delta type (decimals as strings, so no digit is lost; dates and times as ISO
strings), nullable where the table says so.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from catalog.records import CatalogEntry
from catalog.sharing.grants import ShareGrant
from catalog.sharing.reads import MAX_PAGE

_SIMPLE: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "long": {"type": "integer", "format": "int64"},
    "integer": {"type": "integer", "format": "int32"},
    "short": {"type": "integer"},
    "byte": {"type": "integer"},
    "float": {"type": "number"},
    "double": {"type": "number"},
    "boolean": {"type": "boolean"},
    "binary": {"type": "string", "contentEncoding": "base64"},
    "date": {"type": "string", "format": "date"},
    "timestamp": {"type": "string", "format": "date-time"},
    "timestamp_ntz": {"type": "string", "format": "date-time"},
}
_DECIMAL = re.compile(r"^decimal\((\d+),(\d+)\)$")


def json_type(delta_type: str, nullable: bool) -> dict[str, Any]:
    """The JSON Schema of a value of ``delta_type``; nested types are any JSON value."""
    found = _SIMPLE.get(delta_type)
    if found is None and (decimal := _DECIMAL.match(delta_type)):
        scale = int(decimal.group(2))
        found = {
            "type": "string",
            "pattern": rf"^-?\d+(\.\d{{1,{scale}}})?$" if scale else r"^-?\d+$",
        }
    schema = dict(found) if found is not None else {}
    if nullable and "type" in schema:
        schema["type"] = [schema["type"], "null"]
    return schema


def record_schema(entry: CatalogEntry, grant: ShareGrant) -> dict[str, Any]:
    """The JSON Schema of one record the grant returns."""
    columns = {c.name: c for c in entry.definition.columns}
    properties = {}
    for name in grant.terms.columns:
        column = columns[name]
        masked = column.sensitive is not None and name not in grant.terms.clear
        typed = {"type": ["string", "null"]} if masked else json_type(column.type, column.nullable)
        properties[name] = {**typed, "description": column.comment or name}
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}  # fmt: skip


def openapi(entry: CatalogEntry, grant: ShareGrant, server: str) -> dict[str, Any]:
    """The OpenAPI document of resource ``entry``'s service endpoint, for ``grant``."""
    record = record_schema(entry, grant)
    rows = {"type": "array", "items": {"$ref": "#/components/schemas/Record"}}
    page = {
        "type": "object",
        "required": ["rows", "next_cursor"],
        "properties": {"rows": rows, "next_cursor": {"type": ["string", "null"]}},
    }
    path = f"/v1/resources/{entry.code}/service/records"
    parameters = [
        {
            "name": "filter",
            "in": "query",
            "schema": {"type": "string"},
            "description": "A condition over the record's columns, e.g. status = 'active'.",
        },
        {
            "name": "fields",
            "in": "query",
            "schema": {"type": "string"},
            "description": "Comma-separated columns (default: all).",
        },
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
        },
        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
    ]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{entry.definition.title} ({entry.code})",
            "version": str(entry.version),
            "description": entry.definition.description,
        },
        "servers": [{"url": server}],
        "paths": {
            path: {
                "get": {
                    "summary": f"Records of {entry.definition.title}",
                    "parameters": parameters,
                    "security": [{"bearer": []}],
                    "responses": {
                        "200": {
                            "description": "A page of records",
                            "content": {"application/json": {"schema": page}},
                        },
                        "400": {"description": "A filter, field, page or cursor not allowed"},
                        "401": {"description": "No valid token"},
                        "403": {"description": "No grant in force"},
                        "429": {"description": "The grant's quota is used up; see Retry-After"},
                    },
                }
            }
        },
        "components": {
            "schemas": {"Record": record},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def typed(value: Any) -> Any:
    """A value as the schema types it: decimals as strings, dates and times ISO."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
