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
from server.store.migrate import has_old_data, migrate

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
    await _migrate_old_data(store, settings)
    yield
    await store.aclose()


async def _migrate_old_data(store: Store, settings: Settings) -> None:
    """Move data Plenary 0.1.0 left under its old key names before serving, so an upgrade shows every event,
    update and token at once. Safe with several processes starting together (each key moves whole, once; the
    others find it gone) and before this version wrote anything (so nothing new has to be merged with it);
    what cannot be moved stays where it is and is named, with the command that retries it."""
    if settings.redis_cluster:
        return  # 0.1.0 never ran on a cluster
    try:
        if not await has_old_data(store.client, settings.redis_prefix):
            return
        logger.warning("data stored by Plenary 0.1.0 found under the prefix %r: moving it to this version's names",
                       settings.redis_prefix)  # fmt: skip
        moved, kept = await migrate(store.client, settings.redis_prefix)
    except Exception as exc:
        logger.warning("WARNING: Plenary 0.1.0 data under the prefix %r was not moved (%s: %s) and is not read "
                       "by this version: run `plenary store migrate` with the same settings",
                       settings.redis_prefix, type(exc).__name__, exc)  # fmt: skip
        return
    logger.warning("moved Plenary 0.1.0 data: %s", ", ".join(f"{kind} {n}" for kind, n in sorted(moved.items())))
    for problem in kept:
        logger.warning("WARNING: not moved: %s (see `plenary store migrate`)", problem)


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
