"""Feed limits (issue 13): resync for an after beyond the log or too far behind, the catch-up deadline, and
keep-alive for a reader still catching up."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient

from server.appkeys import HUB, STORE
from server.feed.broker import MemoryBroker
from server.feed.hub import Hub, hub_ctx
from tests.conftest import make_event, make_token

EV = "socitm-2011"
AT = "2011-10-10T10:00:00+01:00"


async def _posts(client: TestClient, n: int) -> list[str]:  # type: ignore[type-arg]
    headers = await make_token(client, f"drew{os.urandom(4).hex()}")
    seqs = []
    for i in range(n):
        response = await client.post(f"/api/events/{EV}/updates", json={"text": f"u{i}", "happened_at": AT},
                                     headers=headers)  # fmt: skip
        assert response.status == 201
        seqs.append((await response.json())["seq"])
    return seqs


async def _first(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    async with asyncio.timeout(5):
        return json.loads((await ws.receive()).data)  # type: ignore[no-any-return]


async def test_an_after_beyond_the_logs_end_gets_resync_at_once(client: TestClient) -> None:  # type: ignore[type-arg]
    """Before: the reader waited for ever for the channel to reach its after (no message, no keep-alive)."""
    await make_event(client)
    [seq] = await _posts(client, 1)
    beyond = f"{int(seq.split('-')[0]) + 10**6}-0"
    async with client.ws_connect(f"/ws/events/{EV}?after={beyond}") as ws:
        assert await _first(ws) == {"type": "resync"}
        [live] = await _posts(client, 1)
        assert (await _first(ws))["seq"] == live
    async with client.get(f"/api/events/{EV}/stream", headers={"Last-Event-ID": beyond}) as sse:
        async with asyncio.timeout(5):
            assert await sse.content.readline() == b"event: resync\n"


async def test_a_resume_too_far_behind_gets_resync(aiohttp_client: Any, make_app: Callable[..., Any]) -> None:
    client = await aiohttp_client(make_app(resume_max_messages=3))
    await make_event(client)
    seqs = await _posts(client, 5)
    async with client.ws_connect(f"/ws/events/{EV}?after={seqs[1]}") as ws:  # 3 behind: replayed
        assert [(await _first(ws))["seq"] for _ in range(3)] == seqs[2:]
        async with client.ws_connect(f"/ws/events/{EV}?after={seqs[0]}") as far:  # 4 behind, from memory
            assert await _first(far) == {"type": "resync"}
    async with client.ws_connect(f"/ws/events/{EV}?after={seqs[0]}") as far:  # 4 behind, from the log
        assert await _first(far) == {"type": "resync"}
        [live] = await _posts(client, 1)
        assert (await _first(far))["seq"] == live


def _silent_upgrade(port: int, path: str) -> socket.socket:
    """A WebSocket client that upgrades and then never reads (tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())  # fmt: skip
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


async def test_a_catch_up_that_cannot_finish_is_cut(aiohttp_client: Any, make_app: Callable[..., Any]) -> None:
    """A reader that resumes from far back and never reads is cut at the catch-up deadline. Before: its catch-up
    waited on the socket for ever, holding its connection, its buffers and its place among the readers."""
    client = await aiohttp_client(make_app(catch_up_seconds=1.0))
    await make_event(client)
    [first] = await _posts(client, 1)
    store = client.app[STORE]
    for i in range(150):  # ~9 MB: more than the kernel's socket buffers and the transport's high-water mark
        await store.append(EV, "reflections", {"n": i, "pad": "x" * 60_000})
    hub = client.app[HUB]
    sock = await asyncio.to_thread(_silent_upgrade, client.port, f"/ws/events/{EV}?after={first}")
    try:
        async with asyncio.timeout(8):
            while hub.local_count(EV):  # noqa: ASYNC110 (the hub's state has no event to wait on)
                await asyncio.sleep(0.1)
    finally:
        sock.close()


async def test_a_reader_waiting_to_go_live_is_kept_alive(aiohttp_client: Any, make_app: Callable[..., Any]) -> None:
    """A reader whose log read ran ahead of pub/sub waits, joining, until the channel catches up: it gets
    keep-alives meanwhile, counts once, and then goes live without a repeat."""
    broker = MemoryBroker()

    async def memory_hub(app: web.Application) -> AsyncIterator[None]:
        hub = app[HUB] = Hub(broker, keepalive_seconds=0.5)
        await hub.start()
        yield
        await hub.close()

    app = make_app()
    app.cleanup_ctx[list(app.cleanup_ctx).index(hub_ctx)] = memory_hub
    client = await aiohttp_client(app)
    await make_event(client)
    hub = app[HUB]
    async with client.ws_connect(f"/ws/events/{EV}") as live:
        held = broker.publish(EV, "reflections", {"n": 1}, deliver=False)  # in the log, not yet delivered
        async with client.ws_connect(f"/ws/events/{EV}?after=0-1", autoping=False) as waiting:
            assert (await _first(waiting))["seq"] == held.seq  # from the log
            async with asyncio.timeout(5):
                assert (await waiting.receive()).type is aiohttp.WSMsgType.PING
            assert hub.local_count(EV) == 2
            hub.deliver(EV, [held])  # pub/sub catches up: the waiting reader goes live
            later = broker.publish(EV, "reflections", {"n": 2})
            assert (await _first(live))["seq"] == held.seq
            assert (await _first(live))["seq"] == later.seq
            async with asyncio.timeout(5):
                message = await waiting.receive()
                while message.type is aiohttp.WSMsgType.PING:
                    await waiting.pong(message.data)
                    message = await waiting.receive()
            assert json.loads(message.data)["seq"] == later.seq  # held is not repeated
