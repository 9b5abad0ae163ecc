"""Middlewares: problem+json rendering of every error, request ids, security headers; and body parsing."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from config.logs import REQUEST_ID
from server import metrics
from server.appkeys import SETTINGS
from server.errors import BadRequest, Invalid, PlenaryError, TooLarge, UnsupportedMediaType

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, *, field: str | None = None,
            type_: str = "about:blank", headers: dict[str, str] | None = None) -> web.Response:  # fmt: skip
    """An RFC 9457 problem response."""
    body: dict[str, object] = {"type": type_, "title": title, "status": status, "detail": detail}
    if field:
        body["field"] = field
    response = web.json_response(body, status=status, content_type=PROBLEM, headers=headers)
    return response


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render PlenaryError and HTTP errors as problem+json; log anything else once and answer 500."""
    try:
        return await handler(request)
    except PlenaryError as exc:
        if exc.status == 429:
            metrics.refused(request)
        return problem(exc.status, exc.title, exc.detail, field=exc.field, type_=exc.type, headers=exc.headers)
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[SETTINGS].max_body_bytes
        return problem(413, TooLarge.title, f"the body is larger than {limit} bytes")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Location")}
        return problem(exc.status, exc.reason, exc.text or exc.reason, headers=headers)
    except Exception:
        logger.exception("unhandled error in %s %s", request.method, request.path)
        return problem(500, "Internal Server Error", "the server failed; the error is logged")


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A request id on every answer, and headers that every answer should carry."""
    request_id = (request.headers.get("X-Request-Id") or uuid.uuid4().hex)[:64]
    REQUEST_ID.set(request_id)  # log lines written while handling this request carry it
    response = await handler(request)
    response.headers.setdefault("X-Request-Id", request_id)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    return response


def _field_of(error: dict[str, object]) -> str | None:
    loc = ".".join(str(part) for part in error.get("loc", ()))  # type: ignore[attr-defined]
    if loc:
        return loc
    message = str(error.get("msg", ""))
    head = message.removeprefix("Value error, ").partition(":")[0]
    return head if head.replace("_", "").isalnum() else None


def validation_problem(exc: ValidationError) -> Invalid:
    """The first validation error as a 422 naming its field."""
    error = dict(exc.errors(include_url=False)[0])
    field = _field_of(error)
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if error.get("type") == "extra_forbidden":
        message = "unknown field"
    elif field and message.startswith(field + ":"):
        message = message[len(field) + 1 :].strip()
    return Invalid(f"{field}: {message}" if field else message, field=field)


async def read_json(request: web.Request) -> object:
    """The request's JSON body.

    Raises:
        UnsupportedMediaType: not application/json.
        TooLarge: over the configured body limit.
        BadRequest: not JSON, or nested deeper than the decoder's limit.
    """
    if request.content_type != "application/json":
        raise UnsupportedMediaType("send the body as application/json")
    limit = request.app[SETTINGS].max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(f"the body is larger than {limit} bytes")
    raw = await request.read()
    try:
        return json.loads(raw) if raw else {}
    except RecursionError as exc:  # the C decoder stops at the interpreter's depth limit, cheaply
        raise BadRequest("the body's JSON is nested too deeply") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc


async def read_body(request: web.Request, model: type[M]) -> M:
    """The request's JSON body validated by ``model``; unknown fields are refused.

    Raises:
        Invalid: a field is missing, unknown or wrong (the problem names it).
    """
    data = await read_json(request)
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_problem(exc) from exc
