"""The hub and its edges in one process: frames built once, subscriptions, reader counts, limits, keep-alive."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from server import codec
from server.appkeys import HUB, STORE
from server.feed.wire import Format, Message, sse_chunk
from tests.conftest import make_event

EV = "socitm-2011"


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float) -> None:
    """Poll ``check`` until it holds: state in Redis or another app has no event to wait on."""
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


def _published(seq: str, kind: str, data: dict[str, Any]) -> bytes:
    return seq.encode() + b"\n" + kind.encode() + b"\n" + codec.pack(data)


@pytest.mark.parametrize("size", [10, 300, 70_000])
def test_frames_are_built_once_per_format(size: int) -> None:
    message = Message.from_published(_published("5-1", "update", {"id": "a", "text": "x\ny" * size}))
    assert message.frame(Format.JSON) is message.frame(Format.JSON)
    assert message.frame(Format.MSGPACK) is message.frame(Format.MSGPACK)
    frame = message.frame(Format.JSON)
    n = frame[1] & 0x7F
    body = frame[2 + {126: 2, 127: 8}.get(n, 0) :]
    length = {126: lambda: struct.unpack("!H", frame[2:4])[0], 127: lambda: struct.unpack("!Q", frame[2:10])[0]}
    assert frame[0] == 0x81 and length.get(n, lambda: n)() == len(body)
    obj = json.loads(body)
    assert obj["seq"] == "5-1" and obj["type"] == "update" and obj["data"]["seq"] == "5-1"
    sse = message.body(Format.SSE)
    assert sse.startswith(b"id: 5-1\nevent: update\ndata: {") and sse.endswith(b"}\n\n")
    assert message.frame(Format.SSE_CHUNKED) == sse_chunk(sse)


def test_session_matching() -> None:
    update = Message("update", "1-0", {"id": "u", "session": "keynote"})
    assert update.matches("keynote") and not update.matches("panel")
    assert Message("session", "1-1", {"id": "panel"}).matches("panel")
    assert not Message("session", "1-1", {"id": "keynote"}).matches("panel")
    # an edit may move an update out of the reader's session: every filtered reader hears of it
    assert Message("edit", "1-2", {"id": "u", "session": "keynote"}).matches("panel")
    assert Message("delete", "1-3", {"id": "u"}).matches("panel")
    assert Message("reflections", "1-4", {"url": "/x"}).matches("panel")


async def _numsub(store_url: str, channel: str) -> int:
    client = aioredis.Redis.from_url(store_url)
    try:
        return int(dict(await client.pubsub_numsub(channel))[channel.encode()])
    finally:
        await client.aclose()


async def test_first_reader_subscribes_last_unsubscribes(client: TestClient, store_url: str) -> None:  # type: ignore[type-arg]
    await make_event(client)
    hub = client.app[HUB]
    channel = client.app[STORE].keys.channel(EV)
    async with client.ws_connect(f"/ws/events/{EV}"), client.ws_connect(f"/ws/events/{EV}"):
        assert await _numsub(store_url, channel) == 1  # one subscription for both readers
        assert hub.local_count(EV) == 2 and hub.departures == 0

    async def unsubscribed() -> bool:
        return not await _numsub(store_url, channel) and not hub.subscribed()

    await eventually(unsubscribed, 8)
    assert hub.departures == 2  # each reader counted once (the heap keeper reads it)


async def test_reader_counts_across_processes(aiohttp_client: Any, make_app: Callable[..., Any]) -> None:
    one = await aiohttp_client(make_app(reader_count_seconds=0.2))
    two = await aiohttp_client(make_app(reader_count_seconds=0.2))
    await make_event(one)
    url = f"/api/events/{EV}/readers"

    async def count(client: TestClient, n: int) -> bool:  # type: ignore[type-arg]
        return bool(await (await client.get(url)).json() == {"readers": n})

    async with one.ws_connect(f"/ws/events/{EV}"), two.ws_connect(f"/ws/events/{EV}"), \
            two.get(f"/api/events/{EV}/stream"):  # fmt: skip
        await eventually(lambda: count(one, 3), 5)
    await eventually(lambda: count(two, 0), 8)
    assert (await one.get("/api/events/nope/readers")).status == 404


async def test_a_crashed_process_stops_counting(client: TestClient) -> None:  # type: ignore[type-arg]
    await make_event(client)
    store = client.app[STORE]
    await store.put_reader_counts("ghost", {EV: 7}, 60)
    assert (await store.reader_counts(EV))["ghost"] == 7
    await store.client.delete(store.keys.process_alive("ghost"))  # what expiry does to a crashed process
    assert "ghost" not in await store.reader_counts(EV)
    assert not await store.client.hexists(store.keys.readers(EV), "ghost")


async def test_oversized_client_message_closes_1009(aiohttp_client: Any, make_app: Callable[..., Any]) -> None:
    client = await aiohttp_client(make_app(ws_max_message_bytes=128))
    await make_event(client)
    async with client.ws_connect(f"/ws/events/{EV}") as ws:
        await ws.send_str("x" * 500)
        async with asyncio.timeout(5):
            message = await ws.receive()
        assert message.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1009


async def test_bad_requests(client: TestClient) -> None:  # type: ignore[type-arg]
    await make_event(client)
    assert (await client.get("/api/events/nope/stream")).status == 404
    assert (await client.get(f"/api/events/{EV}/stream?after=yesterday")).status == 422
    assert (await client.get(f"/api/events/{EV}/stream", headers={"Last-Event-ID": "x"})).status == 422
    assert (await client.get(f"/api/events/{EV}/stream?session=Not_A_Session")).status == 422
    assert (await client.get(f"/ws/events/{EV}")).status == 400  # no upgrade
    with pytest.raises(aiohttp.WSServerHandshakeError) as bad:
        await client.ws_connect(f"/ws/events/{EV}?after=1-x")
    assert bad.value.status == 422


async def test_keepalive(aiohttp_client: Any, make_app: Callable[..., Any]) -> None:
    client = await aiohttp_client(make_app(keepalive_seconds=0.5))
    await make_event(client)
    async with client.get(f"/api/events/{EV}/stream") as sse:
        async with asyncio.timeout(5):
            assert await sse.content.readline() == b": keep-alive\n"
    async with client.ws_connect(f"/ws/events/{EV}", autoping=False) as ws:
        async with asyncio.timeout(5):
            assert (await ws.receive()).type is aiohttp.WSMsgType.PING


async def _answer_pings(ws: aiohttp.ClientWebSocketResponse, pinged: list[float] | None = None) -> None:
    """Read ``ws`` until it closes, answering each ping (and noting when it came)."""
    loop = asyncio.get_running_loop()
    async for message in ws:
        if message.type is aiohttp.WSMsgType.PING:
            if pinged is not None:
                pinged.append(loop.time())
            await ws.pong(message.data)


async def test_a_reader_that_never_answers_pings_is_dropped(aiohttp_client: Any, make_app: Callable[..., Any]) -> None:
    client = await aiohttp_client(make_app(keepalive_seconds=0.5))
    await make_event(client)
    async with client.ws_connect(f"/ws/events/{EV}", autoping=False) as alive, \
            client.ws_connect(f"/ws/events/{EV}", autoping=False) as silent:  # fmt: skip
        answering = asyncio.create_task(_answer_pings(alive))
        async with asyncio.timeout(5):
            assert (await silent.receive()).type is aiohttp.WSMsgType.PING  # ...and no pong goes back
            assert (await silent.receive()).type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
        await asyncio.sleep(1.0)  # two more keep-alive periods
        assert not answering.done() and client.app[HUB].local_count(EV) == 1
        answering.cancel()


async def test_keepalives_are_spread_over_the_period(aiohttp_client: Any, make_app: Callable[..., Any]) -> None:
    """Readers are pinged in turns (one slot of the period per tick), not all in one burst."""
    client = await aiohttp_client(make_app(keepalive_seconds=2.0))  # two slots, a tick a second
    await make_event(client)
    loop = asyncio.get_running_loop()
    sockets = [await client.ws_connect(f"/ws/events/{EV}", autoping=False) for _ in range(4)]
    pings: list[list[float]] = [[] for _ in sockets]
    tasks = [asyncio.create_task(_answer_pings(ws, times)) for ws, times in zip(sockets, pings, strict=True)]
    try:
        # every reader is live by now; in the next full period each gets exactly one ping, in its slot
        start = loop.time() + 2.2
        await asyncio.sleep(2.2 + 2.0 + 0.3)
        pinged = sorted(next(t for t in times if t >= start) for times in pings)
        assert pinged[1] - pinged[0] < 0.3 and pinged[3] - pinged[2] < 0.3  # two readers per tick
        assert pinged[2] - pinged[1] > 0.6  # a tick apart
    finally:
        for task in tasks:
            task.cancel()
        for ws in sockets:
            await ws.close()


async def test_feeds_are_documented(client: TestClient) -> None:  # type: ignore[type-arg]
    paths = (await (await client.get("/api/openapi.json")).json())["paths"]
    assert "101" in paths["/ws/events/{event}"]["get"]["responses"]
    assert {p["name"] for p in paths["/api/events/{event}/stream"]["get"]["parameters"]} >= {"after", "session"}
    assert "ReaderCount" in json.dumps(paths["/api/events/{event}/readers"]["get"])
