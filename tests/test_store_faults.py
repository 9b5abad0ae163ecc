"""Store faults answered at once: a stalled, stopped, restarted or full Redis is a 503 with Retry-After within
``redis_timeout``, never a hang or a 500; a durability wait that timed out says the outcome is unknown."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis

from config.settings import Settings
from server.app import create_app
from server.embedded import EmbeddedValkey

from conftest import ADMIN, EVENT, make_event

URL = "/api/events/socitm-2011/updates"
BODY = {"text": "Still here?", "happened_at": "2011-10-11T10:00:00+01:00"}
TIMEOUT = 1.5  # redis_timeout in these tests: longer than /readyz may take


@pytest.fixture
def start_valkey(tmp_path: Path) -> Iterator[Callable[..., EmbeddedValkey]]:
    """Start Valkeys of this test's own (extra options win), so they can be stopped, paused and restarted;
    every one is left stopped at the end."""
    started: list[EmbeddedValkey] = []

    def start(*extra: str, data: str = "valkey") -> EmbeddedValkey:
        server = EmbeddedValkey(tmp_path / data, extra_args=extra)
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        if server.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(server.pid, signal.SIGCONT)
        server.stop()


@pytest.fixture
def valkey(start_valkey: Callable[..., EmbeddedValkey]) -> EmbeddedValkey:
    return start_valkey()


def on(settings: Settings, valkey: EmbeddedValkey, **changes: Any) -> Settings:
    return settings.model_copy(update={"redis_url": valkey.url, "redis_timeout": TIMEOUT, **changes})


@contextlib.contextmanager
def paused(valkey: EmbeddedValkey) -> Iterator[None]:
    """The store stalls (SIGSTOP): connections open, nothing answers."""
    assert valkey.pid is not None
    os.kill(valkey.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(valkey.pid, signal.SIGCONT)


async def timed(request: Any) -> tuple[Any, float]:
    started = time.monotonic()
    async with asyncio.timeout(10):  # a hang fails the test instead of the whole run
        response = await request
    return response, time.monotonic() - started


async def test_a_stalled_store_answers_503_within_the_timeout(aiohttp_client: Any, settings: Settings,
                                                              valkey: EmbeddedValkey) -> None:  # fmt: skip
    client = await aiohttp_client(create_app(on(settings, valkey)))
    await make_event(client)
    assert (await client.post(URL, json=BODY, headers=ADMIN)).status == 201
    with paused(valkey):
        post, post_took = await timed(client.post(URL, json=BODY, headers=ADMIN))
        ready, ready_took = await timed(client.get("/readyz"))
    assert post.status == 503 and post.headers["Retry-After"]
    assert post_took < TIMEOUT + 1  # a bound on a hang, not a speed figure
    assert ready.status == 503 and ready.headers["Retry-After"]
    assert ready_took < 1.0  # /readyz answers within 1 s whatever redis_timeout is
    assert (await client.post(URL, json=BODY, headers=ADMIN)).status == 201  # back at once


async def test_a_stopped_store_answers_503_and_a_restart_is_checked_before_any_write(
    aiohttp_client: Any, settings: Settings, start_valkey: Callable[..., EmbeddedValkey]
) -> None:
    valkey = start_valkey()
    client = await aiohttp_client(create_app(on(settings, valkey)))
    await make_event(client)
    valkey.stop()
    post, took = await timed(client.post(URL, json=BODY, headers=ADMIN))
    assert post.status == 503 and post.headers["Retry-After"] and took < TIMEOUT + 1
    assert (await post.json())["type"] == "/problems/service-unavailable"  # refused: nothing was sent
    assert (await client.get("/readyz")).status == 503
    start_valkey("--appendonly", "no")  # back, but without its AOF: acknowledged writes could now be lost
    event = {"id": "after-restart", "title": "After", "starts_on": "2011-10-10", "ends_on": "2011-10-10"}
    refused = await client.post("/api/events", json=event, headers=ADMIN)
    assert refused.status == 503 and refused.headers["Retry-After"]
    assert "appendonly off" in (await refused.json())["detail"]
    assert (await client.get("/api/events/after-restart")).status == 404  # nothing was written


async def test_a_server_started_before_its_store_writes_once_the_store_is_up(
    aiohttp_client: Any, settings: Settings, start_valkey: Callable[..., EmbeddedValkey]
) -> None:
    valkey = start_valkey()
    valkey.stop()
    client = await aiohttp_client(create_app(on(settings, valkey)))
    assert (await client.post("/api/events", json=EVENT, headers=ADMIN)).status == 503
    start_valkey("--appendfsync", "everysec")  # a lazier fsync than the start-up default: WAITAOF after writes
    await make_event(client)
    assert (await client.post(URL, json=BODY, headers=ADMIN)).status == 201


async def test_a_full_store_answers_503_and_readyz_says_so(aiohttp_client: Any, settings: Settings,
                                                           valkey: EmbeddedValkey) -> None:  # fmt: skip
    client = await aiohttp_client(create_app(on(settings, valkey)))
    await make_event(client)
    admin = redis.Redis(unix_socket_path=str(valkey.socket_path))
    try:
        await admin.config_set("maxmemory-policy", "noeviction")
        await admin.config_set("maxmemory", "1mb")  # below what the server already uses
        post = await client.post(URL, json=BODY, headers=ADMIN)
        assert post.status == 503 and post.headers["Retry-After"]
        assert "out of memory" in (await post.json())["detail"]
        ready = await client.get("/readyz")
        assert ready.status == 503 and (await ready.json())["status"] == "store out of memory"
        await admin.config_set("maxmemory", "0")
        assert (await client.post(URL, json=BODY, headers=ADMIN)).status == 201
        assert (await client.get("/readyz")).status == 200
    finally:
        await admin.aclose()


async def test_a_durability_wait_that_times_out_says_the_outcome_is_unknown(
    aiohttp_client: Any, settings: Settings, start_valkey: Callable[..., EmbeddedValkey]
) -> None:
    valkey = start_valkey("--appendfsync", "everysec")  # fsynced once a second: a 1 ms WAITAOF times out
    await make_event(await aiohttp_client(create_app(on(settings, valkey))))
    client = await aiohttp_client(create_app(on(settings, valkey, waitaof_timeout_ms=1)))
    for attempt in range(20):
        key = {**ADMIN, "Idempotency-Key": f"attempt-{attempt}"}
        post = await client.post(URL, json=BODY, headers=key)
        if post.status == 503:
            break
        assert post.status == 201
    assert post.status == 503 and post.headers["Retry-After"]
    assert (await post.json())["type"] == "/problems/outcome-unknown"
    async with asyncio.timeout(5):  # the retry with the same key answers the first result, never a second copy
        while (retry := await client.post(URL, json=BODY, headers=key)).status != 201:
            assert retry.status == 503
    listing = await (await client.get(URL + "?limit=200")).json()
    assert len(listing["updates"]) == len({u["id"] for u in listing["updates"]}) == attempt + 1
