"""Service endpoints: liveness, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from aiohttp import web

from server import metrics
from server.api import Routes
from server.appkeys import SETTINGS, STORE
from server.auth import actor
from server.client import address_in, client_address
from server.drain import DRAIN
from server.errors import Forbidden, Unauthorized
from server.models import Health, Role

routes = Routes()


@routes.route("GET", "/healthz", "200 while the process runs", response=Health)
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.route("GET", "/readyz", "200 when the store answers and has room and the process is not draining, else 503 "
              "(within 1 s)", response=Health, errors=(503,))  # fmt: skip
async def readyz(request: web.Request) -> web.Response:
    if request.app[DRAIN].draining:
        return web.json_response({"status": "draining"}, status=503, headers={"Retry-After": "2"})
    problem = await request.app[STORE].health()
    if problem is None:
        return web.json_response({"status": "ready"})
    return web.json_response({"status": problem}, status=503, headers={"Retry-After": "2"})


@routes.route("GET", "/metrics", "Prometheus metrics (clients in metrics_allow, or the admin token)", who="admin",
              errors=(401, 403))  # fmt: skip
async def metrics_text(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    if not address_in(client_address(request, settings), settings.metrics_allow):
        who = await actor(request)
        if who is None:
            raise Unauthorized("metrics are served to the metrics_allow networks or with an admin token")
        if who.role is not Role.ADMIN:
            raise Forbidden("metrics are served to the metrics_allow networks or with an admin token")
    return web.Response(
        body=metrics.render(request.app),
        content_type="text/plain",
        charset="utf-8",
        headers={"Cache-Control": "no-store"},
    )


@routes.route("GET", "/api/openapi.json", "The OpenAPI 3.1 document of every /api route")
async def openapi_json(request: web.Request) -> web.Response:
    from server.openapi import document

    return web.json_response(document(request.app))
