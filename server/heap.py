"""Keep the garbage collector's full passes from stopping delivery while thousands of readers are connected.

CPython's automatic full collection scans every tracked object with the event loop stopped: with 10,000
readers (~70 objects each in aiohttp and the hub) that is 0.3-0.4 s, and while readers keep joining it comes
again each time a quarter more objects have survived (measured: nine passes of 15-370 ms while 10,000 readers
connected, one of them inside the latency window). Nearly everything those passes look at is live.

So after each full pass the survivors are frozen (``gc.freeze``): later automatic passes skip them and look
only at what is new, a few milliseconds. What was frozen and later became cyclic garbage, chiefly the
connection objects of readers who left, is reclaimed by a pass over everything, which this module runs
- when as many readers have left since the last one as were connected at the most meanwhile (at least
  ``min_departures``): a storm of readers dropping and coming back costs one long pass, not one per quarter;
- and at least every ``full_every`` seconds, for whatever else froze alive and died since (a request in
  flight during a full pass, say).
That pass takes what CPython's own would (0.35-0.5 s at 10,000 readers). Nothing here may walk the frozen
objects between passes: ``gc.get_freeze_count()`` does, ~70 ms at 10,000 readers. Written for the generational
collector of CPython 3.11-3.13: where a full pass is not reported as generation 2, nothing is frozen and
only the passes above are added.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from server.appkeys import HUB, SETTINGS

logger = logging.getLogger(__name__)


class HeapKeeper:
    """Freezes what survives each full collection (from a ``gc.callbacks`` hook, while ``installed``);
    collects everything when readers' leaving calls for it."""

    def __init__(self, *, min_departures: int = 1000, full_every: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.min_departures = min_departures
        self.full_every = full_every
        self._clock = clock  # seconds; a test passes its own to let an hour pass
        self._departures = 0  # departures counted at the last pass over everything
        self._peak = 0  # the most readers connected since
        self._at = clock()

    def install(self) -> None:
        gc.callbacks.append(self._after_collection)

    def uninstall(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._after_collection)
        gc.unfreeze()

    def _after_collection(self, phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            gc.freeze()  # a full pass leaves the younger generations empty: (nearly) only its survivors

    def tick(self, readers: int, departures: int) -> None:
        """Call about once a second with the readers connected now and the count of readers who ever left."""
        self._peak = max(self._peak, readers)
        left = departures - self._departures
        due = self._clock() - self._at >= self.full_every
        if left >= max(self.min_departures, self._peak) or due:
            self.collect_everything(readers, departures)

    def collect_everything(self, readers: int, departures: int) -> None:
        """Unfreeze and collect every generation (the hook freezes the survivors again)."""
        started = time.perf_counter()
        gc.unfreeze()
        found = gc.collect()
        logger.info("full garbage collection: %d objects freed in %.0f ms (%d readers have left since the last)",
                    found, 1000 * (time.perf_counter() - started), departures - self._departures)  # fmt: skip
        self._departures, self._peak, self._at = departures, readers, self._clock()


async def _keep(keeper: HeapKeeper, sample: Callable[[], tuple[int, int]]) -> None:
    while True:
        await asyncio.sleep(1.0)
        keeper.tick(*sample())


async def heap_ctx(app: web.Application) -> AsyncIterator[None]:
    """With ``freeze_heap``: run a HeapKeeper on this process's hub (after the hub starts)."""
    if not app[SETTINGS].freeze_heap:
        yield
        return
    hub = app[HUB]
    keeper = HeapKeeper()
    keeper.install()
    task = asyncio.create_task(_keep(keeper, lambda: (sum(hub.counts().values()), hub.departures)))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    keeper.uninstall()
