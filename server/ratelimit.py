"""Rate limits that hold across server processes: token buckets and feed slots kept in Redis.

Writes are limited per token, reads and pages per client address, new feeds per address; open feeds are
capped per address (across processes) and per process. A limited request is 429 with ``Retry-After``; a full
process is 503. When Redis cannot answer, the limiter lets the request through (the store's own errors
answer for the store): limits must never be what takes the service down.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import secrets
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError

from config.settings import Settings
from server.appkeys import SETTINGS, STORE
from server.client import client_address
from server.errors import Overloaded, RateLimited, StoreUnavailable

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_LEASE_MS = 60_000  # a feed slot lives this long unless its process renews it (every third of it)
_UNLIMITED_PATHS = ("/healthz", "/readyz", "/metrics")
_FAILURES = (RedisError, StoreUnavailable, OSError, asyncio.TimeoutError)


def _script(name: str) -> str:
    return resources.files("server").joinpath(name).read_text(encoding="utf-8")


_RENEW = """
local t = redis.call('TIME')
local until_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', until_ms, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return 0
"""


@dataclass
class Limiter:
    """One process's view of the shared limits; kept on the app under ``LIMITER``."""

    settings: Settings
    client: Any  # the store's redis client
    process: str = field(default_factory=lambda: secrets.token_hex(6))
    open_feeds: int = 0
    slots: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    idle: asyncio.Event = field(default_factory=asyncio.Event)  # set while no feed is open (shutdown, tests)
    _warned_at: float = 0.0

    def __post_init__(self) -> None:
        self._bucket = self.client.register_script(_script("ratelimit.lua"))
        self._slot = self.client.register_script(_script("feedslots.lua"))
        self._renew = self.client.register_script(_RENEW)
        self._seq = 0
        self._releasing: set[asyncio.Task[None]] = set()
        self.idle.set()

    def _key(self, *parts: str) -> str:
        return ":".join((self.settings.redis_prefix, "limit", *parts))

    def note_failure(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._warned_at > 60:
            self._warned_at = now
            logger.warning("rate limiter cannot reach the store (%s); letting requests through", exc)

    async def take(self, kind: str, who: str, rate: float, burst: int) -> None:
        """Take one token from the ``kind`` bucket of ``who``.

        Raises:
            RateLimited: the bucket is empty; ``Retry-After`` says when a token is back.
        """
        try:
            async with asyncio.timeout(self.settings.redis_timeout):
                allowed, wait_ms = await self._bucket(keys=[self._key(kind, who)], args=[rate, burst])
        except _FAILURES as exc:
            self.note_failure(exc)
            return
        if not allowed:
            retry = max(1, math.ceil(int(wait_ms) / 1000))
            raise RateLimited(f"too many {kind} requests; retry in {retry} s", headers={"Retry-After": str(retry)})

    async def open_feed(self, address: str) -> str | None:
        """Take a feed slot of ``address``; returns its member name (None when the store could not be asked).

        Raises:
            Overloaded: this process holds ``max_feeds_per_process`` feeds.
            RateLimited: the address holds ``max_connections_per_address`` feeds across all processes.
        """
        if self.open_feeds >= self.settings.max_feeds_per_process:
            raise Overloaded("this server has as many live feeds as it takes; retry soon", retry_after=5)
        if not self.settings.rate_limits:
            return None
        self._seq += 1
        member = f"{self.process}:{self._seq}"
        limit = self.settings.max_connections_per_address
        try:
            async with asyncio.timeout(self.settings.redis_timeout):
                taken = await self._slot(keys=[self._key("feeds", address)], args=[member, limit, _LEASE_MS])
        except _FAILURES as exc:
            self.note_failure(exc)
            return None
        if not taken:
            raise RateLimited(f"at most {limit} feed connections per client address", headers={"Retry-After": "5"})
        self.slots[address].add(member)
        return member

    def close_feed(self, address: str, member: str | None) -> None:
        """Give a feed's slot back. Synchronous, so a cancelled handler still does; the store's copy is
        removed by a task (and if that fails, the slot ends with its lease)."""
        self.open_feeds -= 1
        members = self.slots.get(address)
        if member is not None and members is not None:
            members.discard(member)
            if not members:
                del self.slots[address]
            task = asyncio.create_task(self._release(address, member), name="feed-slot-release")
            self._releasing.add(task)
            task.add_done_callback(self._released)
        else:
            self._released(None)

    async def _release(self, address: str, member: str) -> None:
        with contextlib.suppress(*_FAILURES):
            async with asyncio.timeout(self.settings.redis_timeout):
                await self.client.zrem(self._key("feeds", address), member)

    def _released(self, task: asyncio.Task[None] | None) -> None:
        if task is not None:
            self._releasing.discard(task)
        if not self.open_feeds and not self._releasing:
            self.idle.set()

    async def drain(self) -> None:
        """Wait for the slot releases still under way (at shutdown)."""
        if self._releasing:
            await asyncio.gather(*self._releasing, return_exceptions=True)

    async def renew(self) -> None:
        """Extend the leases of every slot this process holds (so a dead process's slots expire alone)."""
        for address, members in list(self.slots.items()):
            if members:
                await self._renew(keys=[self._key("feeds", address)], args=[_LEASE_MS, *members])


LIMITER = web.AppKey("limiter", Limiter)


async def limiter_ctx(app: web.Application) -> AsyncIterator[None]:
    """Make the app's Limiter (after the store) and renew its feed leases while it runs."""
    limiter = Limiter(app[SETTINGS], app[STORE].client)
    app[LIMITER] = limiter

    async def renew_forever() -> None:
        while True:
            await asyncio.sleep(_LEASE_MS / 3000)
            try:
                await limiter.renew()
            except _FAILURES as exc:
                limiter.note_failure(exc)

    task = asyncio.create_task(renew_forever(), name="feed-leases")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await limiter.drain()


def _is_feed(path: str) -> bool:
    return path.startswith("/ws/") or path.endswith("/stream")


@web.middleware
async def ratelimit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Take a token for the request: per token for API writes, per client address for the rest."""
    settings = request.app[SETTINGS]
    path = request.path
    if not settings.rate_limits or path.startswith("/static/") or path in _UNLIMITED_PATHS:
        return await handler(request)
    limiter = request.app[LIMITER]
    authorization = request.headers.get("Authorization")
    if _is_feed(path):
        await limiter.take("feed", client_address(request, settings), settings.feed_rate, settings.feed_burst)
    elif request.method not in ("GET", "HEAD", "OPTIONS") and path.startswith("/api/") and authorization:
        who = hashlib.sha256(authorization.encode()).hexdigest()[:32]  # never the token itself
        await limiter.take("write", who, settings.write_rate, settings.write_burst)
    else:
        await limiter.take("read", client_address(request, settings), settings.read_rate, settings.read_burst)
    return await handler(request)


@contextlib.asynccontextmanager
async def feed_admission(request: web.Request, address: str) -> AsyncIterator[None]:
    """Hold one feed slot of ``address`` (and of this process) while the block runs; see Limiter.open_feed."""
    limiter = request.app[LIMITER]
    member = await limiter.open_feed(address)
    limiter.open_feeds += 1
    limiter.idle.clear()
    try:
        yield
    finally:
        limiter.close_feed(address, member)
