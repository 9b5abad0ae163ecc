"""HTTP API handlers, one module per resource; each route is described for the OpenAPI document."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from pydantic import BaseModel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
    query: tuple[str, ...] = ()
    errors: tuple[int, ...] = field(default=())


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
