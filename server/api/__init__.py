"""HTTP API handlers, one module per resource; each route is described for the OpenAPI document."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_SLUG = {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]{0,63}$"}
# Query parameters may be empty: an empty value is the same as none.
_SEQ = {"type": "string", "pattern": r"^([0-9]{1,15}-[0-9]{1,10})?$", "description": "A seq from this API"}
_DATE = {"anyOf": [{"type": "string", "format": "date"}, {"const": ""}], "description": "YYYY-MM-DD"}
#: The schema of every path and query parameter, by name: what server/params.py (and the handlers) accept.
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "event": _SLUG,
    "session": _SLUG,
    "date": {"type": "string", "format": "date", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
    "id": {"type": "string", "minLength": 1},
    "name": {"type": "string", "minLength": 1},
}
QUERY_PARAMETERS: dict[str, dict[str, Any]] = {
    "session": {"type": "string", "pattern": r"^([a-z0-9][a-z0-9-]{0,63})?$"},
    "day": _DATE,
    "after": _SEQ,
    "before": _SEQ,
    "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
}
#: Routes the rate limiter never answers (server/ratelimit.py) and routes that never ask the store.
UNLIMITED = ("/healthz", "/readyz", "/metrics")
STORELESS = ("/healthz", "/metrics", "/api/openapi.json")


@dataclass(frozen=True)
class Operation:
    """One documented route: what it takes, what it answers, and who may call it."""

    method: str
    path: str
    handler: Handler
    summary: str
    who: str = "anyone"
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    also: tuple[int, ...] = ()  # other success statuses with the same answer (200 when a PUT replaces)
    query: tuple[str, ...] = ()
    errors: tuple[int, ...] = field(default=())

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    @property
    def statuses(self) -> list[int]:
        """Every error status the route can answer: the declared ones, and those its shape implies (a body
        can be malformed, too large, of the wrong type or invalid; a parameter invalid; any request rate
        limited; the store unavailable)."""
        implied = set(self.errors)
        if self.body is not None:
            implied |= {400, 413, 415, 422}
        if self.path_params or self.query:
            implied.add(422)
        if self.path not in UNLIMITED:
            implied.add(429)
        if self.path not in STORELESS:
            implied.add(503)
        return sorted(implied)


class Routes:
    """A list of documented routes for one resource module."""

    def __init__(self) -> None:
        self.operations: list[Operation] = []

    def route(self, method: str, path: str, summary: str, **kwargs: object) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.operations.append(Operation(method, path, handler, summary, **kwargs))  # type: ignore[arg-type]
            return handler

        return register

    def table(self) -> list[web.RouteDef]:
        return [web.route(op.method, op.path, op.handler) for op in self.operations]
