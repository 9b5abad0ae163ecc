"""create_app(settings): routes, middlewares and the contexts that own the store; wiring only."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from config.settings import Settings
from server import desk, pages, readers
from server.api import Operation, events, media, reflections, service, tokens, updates
from server.appkeys import REFLECTIONS, SETTINGS, STORE
from server.compression import compression_middleware
from server.drain import DRAIN, Drain, mark_draining
from server.feed import sse, ws
from server.feed.hub import hub_ctx, hub_shutdown
from server.heap import heap_ctx
from server.jobs import queue_ctx, worker_ctx
from server.middleware import headers_middleware, problem_middleware
from server.openapi import OPERATIONS
from server.ratelimit import limiter_ctx, ratelimit_middleware
from server.reflections_store import Reflections
from server.store import Durability, Store
from server.store.migrate import has_old_data

logger = logging.getLogger(__name__)

RESOURCES = (service.routes, tokens.routes, events.routes, updates.routes, media.routes, reflections.routes)
FEEDS = (ws.routes, sse.routes, readers.routes)


class UnsafeStore(RuntimeError):
    """The store could lose acknowledged writes and the settings require durability."""


async def store_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open the store, check that acknowledged writes are durable, close it at the end."""
    settings = app[SETTINGS]
    store = await Store.from_settings(settings)
    app[STORE] = store
    app[REFLECTIONS] = Reflections(store)
    try:
        durability = await store.check_durability()
    except Exception:
        logger.warning("store not reachable at start-up; writes answer 503 until it is")
        durability = Durability.WAITAOF
        store.durability = durability
    if durability is Durability.NONE:
        message = f"{store.durability_problem}: acknowledged updates could be lost"
        if settings.require_durable_store:
            await store.aclose()
            raise UnsafeStore(message + " (turn AOF on, or set require_durable_store = false)")
        logger.warning("WARNING: %s", message)
    else:
        logger.info("store durability: %s", durability)
    await _warn_old_data(store, settings)
    yield
    await store.aclose()


async def _warn_old_data(store: Store, settings: Settings) -> None:
    """Say so when Plenary 0.1.0's data is still under its old key names: this version does not read it until
    `plenary store migrate` moves it (not done here: several processes start at once, and an operator should
    choose when their data is rewritten)."""
    if settings.redis_cluster:
        return  # 0.1.0 never ran on a cluster
    try:
        found = await has_old_data(store.client, settings.redis_prefix)
    except Exception:  # unreachable: already said above
        return
    if found:
        logger.warning("WARNING: data stored by Plenary 0.1.0 is under the prefix %r and is not read by this "
                       "version: run `plenary store migrate` with the same settings (it keeps every record, and "
                       "is safe to run again)", settings.redis_prefix)  # fmt: skip


def create_app(settings: Settings) -> web.Application:
    """The Plenary web application for ``settings``."""
    app = web.Application(
        middlewares=[compression_middleware, headers_middleware, problem_middleware, ratelimit_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[DRAIN] = Drain()
    operations: list[Operation] = [op for resource in (*RESOURCES, *FEEDS) for op in resource.operations]
    app[OPERATIONS] = operations
    app.cleanup_ctx.extend([store_ctx, limiter_ctx, media.media_ctx])
    app.cleanup_ctx.extend([queue_ctx, worker_ctx])
    app.cleanup_ctx.extend([hub_ctx, heap_ctx, readers.readers_ctx])  # live feeds: after the store, closed before it
    app.on_shutdown.extend([mark_draining, hub_shutdown])
    for feed in FEEDS:
        app.add_routes(feed.table())
    for resource in RESOURCES:
        app.add_routes(resource.table())
    pages.setup(app)  # templates; reader, embed, permalink and post pages, Atom feed, /static/ (not in /api)
    app.add_routes(media.files)  # stored photos
    app.add_routes(desk.routes)  # reporter and editor desks (docs/desks.md)
    return app
