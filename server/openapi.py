"""The OpenAPI 3.1 document, generated from the documented routes and their pydantic models."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

from server.api import PATH_PARAMETERS, QUERY_PARAMETERS, Operation

OPERATIONS: web.AppKey[list[Operation]] = web.AppKey("operations", list)

_REASONS = {
    400: "Malformed request", 401: "No or unknown token", 403: "Not allowed", 404: "Unknown",
    409: "Conflict", 413: "Body too large", 415: "Wrong content type", 422: "Invalid field",
    429: "Rate limited; retry after the Retry-After seconds",
    503: "Store unavailable or server full; retry after the Retry-After seconds",
}  # fmt: skip

_PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "field": {"type": "string", "description": "The offending field, when one is to blame"},
    },
}


def _ref(model: type[BaseModel], schemas: dict[str, Any], mode: JsonSchemaMode = "validation") -> dict[str, str]:
    """A reference to the model's schema; answers use the serialization schema (it has computed fields)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
    for name, sub in schema.pop("$defs", {}).items():
        schemas.setdefault(name, sub)
    schemas.setdefault(model.__name__, schema)
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(op: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": PATH_PARAMETERS[name]} for name in op.path_params
    ]
    params += [{"name": name, "in": "query", "required": False, "schema": QUERY_PARAMETERS[name]} for name in op.query]
    if op.method == "POST" and op.path.endswith("/updates"):
        params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                       "schema": {"type": "string", "maxLength": 200}})  # fmt: skip
    ok: dict[str, Any] = {"description": "Success"}
    if op.response is not None:
        ok["content"] = {"application/json": {"schema": _ref(op.response, schemas, "serialization")}}
    responses: dict[str, Any] = {str(status): ok for status in (op.status, *op.also)}
    for status in op.statuses:
        responses[str(status)] = {
            "description": _REASONS.get(status, "Error"),
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    out: dict[str, Any] = {
        "summary": op.summary,
        "description": f"Who: {op.who}.",
        "operationId": op.handler.__name__,
        "parameters": params,
        "responses": responses,
    }
    if op.who != "anyone":
        out["security"] = [{"bearer": []}]
    if op.body is not None:
        out["requestBody"] = {"required": True,
                              "content": {"application/json": {"schema": _ref(op.body, schemas)}}}  # fmt: skip
    return out


def document(app: web.Application) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every documented route of ``app``."""
    schemas: dict[str, Any] = {"Problem": _PROBLEM}
    paths: dict[str, dict[str, Any]] = {}
    for op in app[OPERATIONS]:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Plenary", "version": "1", "description": "Live-blogging API for conferences."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
