"""The job queue seen from the server: a lazy connection to enqueue compiles, and the in-process worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from aiohttp import web

from config.settings import Settings
from server.appkeys import QUEUE, SETTINGS
from server.backoff import Backoff
from server.errors import StoreUnavailable

if TYPE_CHECKING:
    from arq.connections import ArqRedis

logger = logging.getLogger(__name__)


class JobQueue:
    """Connects to the queue on first use, so the server starts (and answers 503) while Redis is down."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool: ArqRedis | None = None
        self._lock = asyncio.Lock()

    async def pool(self) -> ArqRedis:
        """The queue connection.

        Raises:
            StoreUnavailable: Redis cannot be reached.
        """
        from workers.queue import open_queue

        async with self._lock:
            if self._pool is None:
                try:
                    self._pool = await open_queue(self.settings)
                except Exception as exc:  # redis errors stay inside the queue's own modules
                    raise StoreUnavailable(f"the job queue is unavailable: {type(exc).__name__}") from exc
            return self._pool

    async def aclose(self) -> None:
        if self._pool is not None:
            with contextlib.suppress(Exception):
                await self._pool.aclose()


async def queue_ctx(app: web.Application) -> AsyncIterator[None]:
    """The queue the API enqueues jobs on; closed at the end."""
    app[QUEUE] = JobQueue(app[SETTINGS])
    yield
    await app[QUEUE].aclose()


async def _supervise(settings: Settings) -> None:
    """Run an arq worker; when it stops on an error (Redis down), start a fresh one after a backoff."""
    from workers.queue import make_worker

    backoff = Backoff(base=1.0, cap=30.0, jitter=False)
    attempt = 0
    while True:
        attempt += 1
        worker = make_worker(settings, handle_signals=False)
        try:
            await worker.main()
            return
        except Exception as exc:  # the task boundary: log once, retry
            wait = backoff.delay(attempt)
            logger.warning("reflections worker stopped (%s: %s); restarting in %.0f s", type(exc).__name__, exc, wait)
        finally:
            with contextlib.suppress(Exception):
                await worker.close()
        await asyncio.sleep(wait)


async def worker_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run a reflections worker in this process when ``run_worker`` is set (the embedded default)."""
    settings = app[SETTINGS]
    if not settings.run_worker:
        yield
        return
    task = asyncio.create_task(_supervise(settings), name="reflections-worker")
    logger.info("in-process reflections worker started")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
