"""Live reader counts across server processes: a per-process field in a Redis hash, kept alive by an expiring key."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import secrets
import socket
from collections.abc import AsyncIterator

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from server.api import Routes
from server.appkeys import HUB, SETTINGS, STORE
from server.feed.hub import Hub
from server.params import slug
from server.store import Store

logger = logging.getLogger(__name__)

routes = Routes()


class ReaderCount(BaseModel):
    """How many readers follow an event's live feed now, over every server process."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    readers: int


def process_id() -> str:
    """A name for this server process, unique across hosts and restarts."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


async def reader_count(store: Store, event: str, *, hub: Hub | None = None, process: str = "") -> int:
    """Readers of ``event`` over every live process. Each process's count is at most one refresh old; a
    process that stopped refreshing (crashed) stops counting when its key expires (3 refresh periods).
    With ``hub`` and ``process``, this process's own count is taken live instead of from the store."""
    counts = await store.reader_counts(event)
    if hub is not None:
        counts[process] = hub.local_count(event)
    return sum(counts.values())


async def _refresh(app: web.Application, process: str) -> None:
    """Task boundary: write this process's counts every ``reader_count_seconds``."""
    store, hub, period = app[STORE], app[HUB], app[SETTINGS].reader_count_seconds
    ttl = max(1, math.ceil(3 * period))
    previous: set[str] = set()
    while True:
        counts = hub.counts()
        try:
            await store.put_reader_counts(process, {**dict.fromkeys(previous, 0), **counts}, ttl)
            previous = {event for event, n in counts.items() if n}
        except Exception:
            logger.warning("could not record reader counts; retrying", exc_info=True)
        await asyncio.sleep(period)


async def readers_ctx(app: web.Application) -> AsyncIterator[None]:
    """Refresh this process's reader counts while the app runs; remove them at the end (after the hub)."""
    process = process_id()
    app[HUB].process_id = process
    task = asyncio.create_task(_refresh(app, process), name="reader-counts")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    try:
        await app[STORE].drop_reader_counts(process, list(app[HUB].counts()))
    except Exception:
        logger.warning("could not remove reader counts at shutdown; they expire by themselves")


@routes.route("GET", "/api/events/{event}/readers", "Live readers of the event's feeds over every server process",
              response=ReaderCount, errors=(404, 503))  # fmt: skip
async def get_readers(request: web.Request) -> web.Response:
    event = slug(request, "event")
    store = request.app[STORE]
    await store.get_event(event)
    hub = request.app[HUB]
    count = await reader_count(store, event, hub=hub, process=hub.process_id)
    return web.json_response({"readers": count})
