"""The job queue seen from the server: a connection to enqueue compiles, and the in-process worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from server.keys import QUEUE, SETTINGS

logger = logging.getLogger(__name__)


async def queue_ctx(app: web.Application) -> AsyncIterator[None]:
    """Open the connection the API enqueues jobs on; close it at the end."""
    from workers.queue import open_queue

    app[QUEUE] = await open_queue(app[SETTINGS])
    yield
    await app[QUEUE].aclose()


async def worker_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run a reflections worker in this process when ``run_worker`` is set (the embedded default)."""
    settings = app[SETTINGS]
    if not settings.run_worker:
        yield
        return
    from workers.queue import make_worker

    worker = make_worker(settings, handle_signals=False)
    task = asyncio.create_task(worker.main(), name="reflections-worker")
    logger.info("in-process reflections worker started")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await worker.close()
