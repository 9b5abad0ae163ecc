"""Rate limits kept in Redis: per token for writes, per address for reads and feeds, shared by processes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from server.appkeys import SETTINGS
from server.ratelimit import LIMITER, Limiter

from conftest import ADMIN, free_port, make_event, make_token

EV = "socitm-2011"
SLOW = 0.001  # tokens per second: nothing refills during a test
AT = "2011-10-11T10:00:00+01:00"


async def slots_returned(client: Any) -> None:
    """Wait until the server has handed back every feed slot (its handler ends after the client's close)."""
    async with asyncio.timeout(5):
        await client.app[LIMITER].idle.wait()


async def test_writes_are_limited_per_token(aiohttp_client: Any, make_app: Callable[..., Any]) -> None:
    client = await aiohttp_client(make_app(rate_limits=True, write_rate=SLOW, write_burst=3))
    await make_event(client)  # the admin token's three writes: the event, two tokens
    drew, howard = await make_token(client, "Drew"), await make_token(client, "Howard")
    url = f"/api/events/{EV}/updates"
    for _ in range(3):
        assert (await client.post(url, json={"text": "x", "happened_at": AT}, headers=drew)).status == 201
    refused = await client.post(url, json={"text": "x", "happened_at": AT}, headers=drew)
    assert refused.status == 429 and refused.content_type == "application/problem+json"
    assert int(refused.headers["Retry-After"]) >= 1
    assert (await client.post(url, json={"text": "x", "happened_at": AT}, headers=howard)).status == 201


async def test_reads_are_limited_per_address_across_processes(
    aiohttp_client: Any, make_app: Callable[..., Any]
) -> None:
    limits = {"rate_limits": True, "read_rate": SLOW, "read_burst": 3}
    one, two = await aiohttp_client(make_app(**limits)), await aiohttp_client(make_app(**limits))
    assert (await one.get("/api/events")).status == 200
    assert (await two.get("/api/events")).status == 200  # another process, the same bucket
    assert (await one.get("/events/nope")).status == 404  # pages count too
    refused = await two.get("/api/events")
    assert refused.status == 429 and "Retry-After" in refused.headers
    assert (await one.get("/healthz")).status == 200  # probes are never limited


async def test_new_feeds_are_limited_per_address(aiohttp_client: Any, make_app: Callable[..., Any]) -> None:
    client = await aiohttp_client(make_app(rate_limits=True, feed_rate=SLOW, feed_burst=2))
    await make_event(client)
    async with client.ws_connect(f"/ws/events/{EV}"), client.ws_connect(f"/ws/events/{EV}"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(f"/ws/events/{EV}")
        assert refused.value.status == 429
        assert (await client.get(f"/api/events/{EV}/stream")).status == 429


async def test_open_feeds_per_address_are_counted_across_processes(
    aiohttp_client: Any, make_app: Callable[..., Any]
) -> None:
    limits = {"rate_limits": True, "max_connections_per_address": 1}
    one, two = await aiohttp_client(make_app(**limits)), await aiohttp_client(make_app(**limits))
    await make_event(one)
    async with one.ws_connect(f"/ws/events/{EV}"):
        refused = await two.get(f"/api/events/{EV}/stream")
        assert refused.status == 429 and refused.headers["Retry-After"]
    await slots_returned(one)
    async with two.ws_connect(f"/ws/events/{EV}") as ws:  # the slot was given back
        assert not ws.closed


async def test_a_full_process_answers_503(aiohttp_client: Any, make_app: Callable[..., Any]) -> None:
    client = await aiohttp_client(make_app(max_feeds_per_process=1))
    await make_event(client)
    async with client.ws_connect(f"/ws/events/{EV}"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(f"/ws/events/{EV}")
        assert refused.value.status == 503 and refused.value.headers is not None
        assert refused.value.headers["Retry-After"] == "5"
    await slots_returned(client)
    async with client.ws_connect(f"/ws/events/{EV}") as ws:
        assert not ws.closed


async def test_the_limiter_fails_open_when_its_store_is_down(make_app: Callable[..., Any]) -> None:
    app = make_app(rate_limits=True, redis_timeout=0.5)
    dead = aioredis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.2)
    limiter = Limiter(app[SETTINGS], dead)
    for _ in range(5):
        await limiter.take("write", "someone", SLOW, 1)  # no exception: let through
    assert await limiter.open_feed("127.0.0.1") is None
    await dead.aclose()


async def test_admin_writes_count_too(aiohttp_client: Any, make_app: Callable[..., Any]) -> None:
    client = await aiohttp_client(make_app(rate_limits=True, write_rate=SLOW, write_burst=1))
    assert (await client.post("/api/tokens", json={"name": "a", "role": "reporter"}, headers=ADMIN)).status == 201
    assert (await client.post("/api/tokens", json={"name": "b", "role": "reporter"}, headers=ADMIN)).status == 429


async def test_connections_per_address_are_limited(aiohttp_client: Any, make_app: Callable[..., Any]) -> None:
    client = await aiohttp_client(make_app(max_connections_per_address=1, rate_limits=True))
    await make_event(client)
    async with client.ws_connect(f"/ws/events/{EV}"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(f"/ws/events/{EV}")
        assert refused.value.status == 429
        response = await client.get(f"/api/events/{EV}/stream")
        assert response.status == 429
        assert response.content_type == "application/problem+json"
    await slots_returned(client)
    async with client.ws_connect(f"/ws/events/{EV}") as ws:  # the slot is free again
        assert not ws.closed
