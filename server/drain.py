"""Draining: after SIGTERM a process answers /readyz 503 for ``drain_seconds`` while it still serves, then stops.

Load balancers that check readiness (Kubernetes, HAProxy, nginx Plus) stop sending new requests to a draining
process before it closes its listening socket, so a rolling restart refuses nobody; readers are then closed with
1001 and resume on another process.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass

from aiohttp import web

from server.appkeys import SETTINGS

logger = logging.getLogger(__name__)


@dataclass
class Drain:
    """Whether this process is draining (a holder: the app's state may not change once it runs)."""

    draining: bool = False


DRAIN: web.AppKey[Drain] = web.AppKey("drain", Drain)


async def mark_draining(app: web.Application) -> None:
    """on_shutdown: whatever stops the app, /readyz answers 503 from now on."""
    app[DRAIN].draining = True


def _exit() -> None:
    raise web.GracefulExit  # a SystemExit: the event loop lets it out of run_app, which then shuts down


async def handle_signals(app: web.Application) -> None:
    """on_startup of `plenary serve` (not of test apps): SIGTERM and SIGINT drain, then stop the app."""
    loop = asyncio.get_running_loop()
    seconds = app[SETTINGS].drain_seconds

    def begin(signum: int) -> None:
        if app[DRAIN].draining:
            return
        app[DRAIN].draining = True
        logger.info("%s: draining for %.1f s (/readyz answers 503), then stopping", signal.Signals(signum).name,
                    seconds)  # fmt: skip
        loop.call_later(seconds, _exit)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, begin, signum)
