"""Live feeds end to end: real server processes on one store, real WebSocket and SSE clients."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import socket
import struct
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import msgpack
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from server.store import Keys
from tests.conftest import ADMIN, EVENT, LiveServer, make_event, make_token

EV = EVENT["id"]
SESSION = {"title": "Keynote", "starts_at": "2011-10-10T09:00:00+01:00"}
AT = "2011-10-10T10:00:00+01:00"


# --- helpers ----------------------------------------------------------------------------------------


async def setup_event(http: aiohttp.ClientSession, base: str) -> dict[str, str]:
    """Create the event, two sessions and a reporter token on ``base``; return the reporter's headers."""
    response = await http.post(f"{base}/api/events", json=EVENT, headers=ADMIN)
    assert response.status == 201, await response.text()
    for session in ("keynote", "panel"):
        response = await http.put(f"{base}/api/events/{EV}/sessions/{session}", json=SESSION, headers=ADMIN)
        assert response.status in (200, 201), await response.text()
    body = {"name": f"rep{random.randrange(1 << 30)}", "role": "reporter", "events": [EV]}
    response = await http.post(f"{base}/api/tokens", json=body, headers=ADMIN)
    assert response.status == 201, await response.text()
    return {"Authorization": f"Bearer {(await response.json())['token']}"}


async def post(http: aiohttp.ClientSession, base: str, headers: dict[str, str], text: str,
               session: str | None = None) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {"text": text, "happened_at": AT}
    if session:
        body["session"] = session
    response = await http.post(f"{base}/api/events/{EV}/updates", json=body, headers=headers)
    assert response.status == 201, await response.text()
    return await response.json()  # type: ignore[no-any-return]


def ws_url(base: str, **query: str) -> str:
    url = base.replace("http://", "ws://") + f"/ws/events/{EV}"
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


async def ws_messages(ws: aiohttp.ClientWebSocketResponse) -> AsyncIterator[dict[str, Any]]:
    """Feed messages from a JSON or msgpack WebSocket, until it closes."""
    async for frame in ws:
        if frame.type is aiohttp.WSMsgType.TEXT:
            yield json.loads(frame.data)
        elif frame.type is aiohttp.WSMsgType.BINARY:
            yield msgpack.unpackb(frame.data, raw=False)


async def take(messages: AsyncIterator[dict[str, Any]], n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        async for message in messages:
            out.append(message)
            if len(out) == n:
                break
    assert len(out) == n, out
    return out


async def until_seq(messages: AsyncIterator[dict[str, Any]], last: str, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Messages up to and including the one with seq ``last``."""
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        async for message in messages:
            out.append(message)
            if message.get("seq") == last:
                return out
    raise AssertionError(f"the feed ended before {last}: {[m.get('seq') for m in out]}")


async def sse_messages(response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """Feed messages from an SSE response; checks that id: and event: agree with the data."""
    fields: dict[str, str] = {}
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith(":"):
            continue
        if line:
            name, _, value = line.partition(": ")
            fields[name] = value
            continue
        if "data" in fields:
            message = json.loads(fields["data"])
            assert fields["event"] == message["type"]
            assert fields.get("id") == message.get("seq")
            yield message
        fields = {}


async def log_seqs(store_url: str, prefix: str) -> list[str]:
    client = aioredis.Redis.from_url(store_url)
    try:
        rows = await client.xrange(Keys(prefix).log(EV))
    finally:
        await client.aclose()
    return [entry_id.decode() for entry_id, _ in rows]


def assert_exact(received: list[dict[str, Any]], expected: list[str]) -> None:
    seqs = [m["seq"] for m in received]
    assert len(seqs) == len(set(seqs)), "duplicate messages"
    assert seqs == expected


@pytest.fixture(params=["whole", "chunked"])
async def two(request: pytest.FixtureRequest, live_server_factory: Callable[..., LiveServer],
              http: aiohttp.ClientSession) -> tuple[LiveServer, LiveServer, dict[str, str]]:  # fmt: skip
    """Two server processes on one store: readers on A, posts through B. "chunked": the hubs yield to the event
    loop after every single live write, so joins, resumes, promotions and new messages land mid-fan-out."""
    env = {"PLENARY_DISPATCH_CHUNK_WRITES": "1"} if request.param == "chunked" else {}
    a = live_server_factory(**env)
    b = live_server_factory(**env)
    headers = await setup_event(http, b.url)
    return a, b, headers


# --- across processes ---------------------------------------------------------------------------------


async def test_readers_on_one_process_get_posts_through_another(two: Any, http: aiohttp.ClientSession) -> None:
    a, b, headers = two
    async with http.ws_connect(ws_url(a.url)) as text_ws, \
            http.ws_connect(ws_url(a.url), protocols=("plenary.msgpack",)) as bin_ws, \
            http.get(f"{a.url}/api/events/{EV}/stream") as sse:  # fmt: skip
        assert bin_ws.protocol == "plenary.msgpack"
        assert sse.headers["Content-Type"].startswith("text/event-stream")
        posted = [await post(http, b.url, headers, f"update {i}") for i in range(15)]
        expected = [p["seq"] for p in posted]
        for feed in (ws_messages(text_ws), ws_messages(bin_ws), sse_messages(sse)):
            got = await take(feed, 15)
            assert_exact(got, expected)
            assert [m["data"]["text"] for m in got] == [f"update {i}" for i in range(15)]
            assert all(m["type"] == "update" for m in got)


async def test_resume_with_after_gets_exactly_the_missing_ones(two: Any, http: aiohttp.ClientSession) -> None:
    a, b, headers = two
    first = [await post(http, b.url, headers, f"before {i}") for i in range(3)]
    async with http.ws_connect(ws_url(a.url, after=first[0]["seq"])) as ws:
        got = await take(ws_messages(ws), 2)
        assert_exact(got, [p["seq"] for p in first[1:]])
    missed = [await post(http, b.url, headers, f"missed {i}") for i in range(5)]
    async with http.get(f"{a.url}/api/events/{EV}/stream", headers={"Last-Event-ID": got[-1]["seq"]}) as sse:
        feed = sse_messages(sse)
        assert_exact(await take(feed, 5), [p["seq"] for p in missed])
        live = await post(http, b.url, headers, "live")
        assert_exact(await take(feed, 1), [live["seq"]])


async def test_posts_racing_the_catch_up_leave_no_gap_and_no_duplicate(
    two: Any, http: aiohttp.ClientSession, store_url: str, prefix: str
) -> None:
    """Readers connect with after= while posts keep arriving: each must see the log after its after, exactly.

    Fails if the hub backfills before subscribing (posts between the read and the subscription are lost) or
    forgets to drop buffered messages the backfill already sent (duplicates)."""
    a, b, headers = two
    seed = [await post(http, b.url, headers, f"seed {i}") for i in range(5)]
    stop = asyncio.Event()

    async def poster(n: int) -> None:
        i = 0
        while not stop.is_set():
            await post(http, b.url, headers, f"race {n}.{i}")
            i += 1

    async def reader(k: int) -> tuple[str, list[dict[str, Any]]]:
        await asyncio.sleep(random.random() * 1.5)
        seqs = await log_seqs(store_url, prefix)
        after = random.choice(seqs[: max(1, len(seqs) - random.randrange(0, 20))])
        feed = http.ws_connect(ws_url(a.url, after=after), protocols=("plenary.msgpack",) if k % 2 else ())
        async with feed as ws:
            await done.wait()
            return after, await until_seq(ws_messages(ws), final)

    done = asyncio.Event()
    final = ""
    posters = [asyncio.create_task(poster(n)) for n in range(3)]
    readers = [asyncio.create_task(reader(k)) for k in range(24)]
    await asyncio.sleep(2.0)
    stop.set()
    await asyncio.gather(*posters)
    final = (await post(http, b.url, headers, "final"))["seq"]
    done.set()
    results = await asyncio.gather(*readers)
    log = await log_seqs(store_url, prefix)
    assert len(log) > 40 + len(seed)
    for after, got in results:
        assert_exact(got, log[log.index(after) + 1 :])


async def test_killing_the_pubsub_connection_loses_nothing(
    two: Any, http: aiohttp.ClientSession, store_url: str, prefix: str
) -> None:
    a, b, headers = two
    async with http.ws_connect(ws_url(a.url)) as ws1, http.get(f"{a.url}/api/events/{EV}/stream") as sse, \
            http.ws_connect(ws_url(b.url), protocols=("plenary.msgpack",)) as ws2:  # fmt: skip
        killer = aioredis.Redis.from_url(store_url)
        posted: list[str] = []
        kills = 0
        try:
            for i in range(40):
                posted.append((await post(http, b.url, headers, f"u{i}"))["seq"])
                if i % 8 == 3:
                    kills += int(await killer.execute_command("CLIENT", "KILL", "TYPE", "pubsub"))
                    await asyncio.sleep(0.05)  # let a few posts land while the hubs are disconnected
        finally:
            await killer.aclose()
        assert kills >= 5
        for feed in (ws_messages(ws1), sse_messages(sse), ws_messages(ws2)):
            assert_exact(await take(feed, len(posted), timeout=15), posted)
    assert (await log_seqs(store_url, prefix))[-len(posted) :] == posted


# --- slow readers -------------------------------------------------------------------------------------


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _raw_upgrade(port: int) -> socket.socket:
    """A WebSocket client that upgrades and then never reads (tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /ws/events/{EV} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def _read_all(sock: socket.socket) -> tuple[bytes, bool]:
    """Everything until the server closes; True when it reset the connection instead."""
    sock.settimeout(10)
    data = bytearray()
    try:
        while chunk := sock.recv(1 << 16):
            data += chunk
    except ConnectionResetError:
        return bytes(data), True
    except TimeoutError:
        raise AssertionError(f"the server kept the slow reader open ({len(data)} bytes read)") from None
    return bytes(data), False


def _frames(data: bytes) -> tuple[int, int | None]:
    """Data frames in a server's frame stream, and the code of its close frame if one arrived."""
    i, count = 0, 0
    while i + 2 <= len(data):
        opcode, n = data[i] & 0x0F, data[i + 1] & 0x7F
        i += 2
        if n == 126:
            n, i = struct.unpack("!H", data[i : i + 2])[0], i + 2
        elif n == 127:
            n, i = struct.unpack("!Q", data[i : i + 8])[0], i + 8
        if opcode == 0x8:
            return count, int(struct.unpack("!H", data[i : i + 2])[0])
        count += opcode in (0x1, 0x2) and i + n <= len(data)
        i += n
    return count, None


async def test_a_slow_reader_is_cut_off_and_others_keep_up(
    live_server_factory: Callable[..., LiveServer], http: aiohttp.ClientSession
) -> None:
    server = live_server_factory(PLENARY_READER_BUFFER_BYTES="65536")
    headers = await setup_event(http, server.url)
    port = int(server.url.rsplit(":", 1)[1])
    slow = await asyncio.to_thread(_raw_upgrade, port)
    readers_url = f"{server.url}/api/events/{EV}/readers"
    try:
        rss_before = _rss_kib(server.process.pid)
        text = "x" * 9900
        sent = 0
        async with http.ws_connect(ws_url(server.url)) as fast:
            feed = ws_messages(fast)
            assert (await (await http.get(readers_url)).json()) == {"readers": 2}
            # post until the hub cuts the slow reader: the kernel's socket buffers absorb a few MB first
            for i in range(1500):
                seq = (await post(http, server.url, headers, f"{i} {text}"))["seq"]
                sent += 1
                got = await take(feed, 1, timeout=2.0)  # the fast reader is not held back
                assert got[0]["seq"] == seq
                if i % 10 == 9 and (await (await http.get(readers_url)).json())["readers"] == 1:
                    break
            else:
                raise AssertionError("the slow reader was never cut off")
            seq = (await post(http, server.url, headers, "after the cut"))["seq"]
            sent += 1
            assert (await take(feed, 1, timeout=2.0))[0]["seq"] == seq
            rss_after = _rss_kib(server.process.pid)
        data, reset = await asyncio.to_thread(_read_all, slow)
    finally:
        slow.close()
    frames, code = _frames(data)
    assert frames < sent, "the slow reader got everything: it was not cut off"
    assert reset or code == 4008
    assert rss_after - rss_before < 30_000, (rss_before, rss_after)


# --- filters, origin, resync, edit and delete (one process) ---------------------------------------


async def test_session_filter_edit_and_delete(client: TestClient) -> None:  # type: ignore[type-arg]
    await make_event(client)
    for session in ("keynote", "panel"):
        response = await client.put(f"/api/events/{EV}/sessions/{session}", json=SESSION, headers=ADMIN)
        assert response.status == 201
    reporter = await make_token(client, "drew")
    async with client.ws_connect(f"/ws/events/{EV}?session=keynote") as keynote, \
            client.ws_connect(f"/ws/events/{EV}") as everything:  # fmt: skip
        ids = []
        for session in ("keynote", "panel", "keynote"):
            response = await client.post(f"/api/events/{EV}/updates", headers=reporter,
                                         json={"text": f"in {session}", "session": session,
                                               "happened_at": AT})  # fmt: skip
            ids.append((await response.json())["id"])
        response = await client.patch(f"/api/events/{EV}/updates/{ids[0]}", headers=reporter,
                                      json={"text": "edited"})  # fmt: skip
        assert response.status == 200
        response = await client.delete(f"/api/events/{EV}/updates/{ids[2]}", headers=reporter)
        assert response.status == 204
        got = await take(ws_messages(keynote), 4)
        assert [(m["type"], m["data"].get("text")) for m in got] == [
            ("update", "in keynote"), ("update", "in keynote"), ("edit", "edited"), ("delete", None)]  # fmt: skip
        assert got[3]["data"] == {"id": ids[2]}
        everything_got = await take(ws_messages(everything), 5)
        assert [m["type"] for m in everything_got] == ["update", "update", "update", "edit", "delete"]


async def test_origin_check(client: TestClient) -> None:  # type: ignore[type-arg]
    await make_event(client)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect(f"/ws/events/{EV}", headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403
    own = f"http://{client.host}:{client.port}"
    async with client.ws_connect(f"/ws/events/{EV}", headers={"Origin": own}) as ws:
        assert not ws.closed
    with pytest.raises(aiohttp.WSServerHandshakeError) as unknown:
        await client.ws_connect("/ws/events/no-such-event")
    assert unknown.value.status == 404


async def test_allowed_origins_setting(aiohttp_client: Any, make_app: Callable[..., Any]) -> None:
    client = await aiohttp_client(make_app(allowed_origins=("https://blog.example",)))
    await make_event(client)
    async with client.ws_connect(f"/ws/events/{EV}", headers={"Origin": "https://blog.example"}) as ws:
        assert not ws.closed


async def test_resync_when_after_was_trimmed(aiohttp_client: Any, make_app: Callable[..., Any]) -> None:
    client = await aiohttp_client(make_app(log_max_entries=100))
    await make_event(client)
    reporter = await make_token(client, "drew")
    response = await client.post(f"/api/events/{EV}/updates", json={"text": "old", "happened_at": AT}, headers=reporter)
    old = (await response.json())["seq"]
    from server.appkeys import STORE

    store = client.app[STORE]
    for i in range(260):  # XADD MAXLEN ~ trims whole nodes (100 entries by default): this trims the first
        await store.append(EV, "reflections", {"n": i})
    assert await store.client.xlen(store.keys.log(EV)) < 261
    async with client.ws_connect(f"/ws/events/{EV}?after={old}") as ws:
        feed = ws_messages(ws)
        assert (await take(feed, 1))[0] == {"type": "resync"}
        new = {"text": "new", "happened_at": AT}
        response = await client.post(f"/api/events/{EV}/updates", json=new, headers=reporter)
        got = await take(feed, 1)
        assert got[0]["seq"] == (await response.json())["seq"]


async def test_filtered_reader_sees_an_update_moved_out_of_its_session(
    aiohttp_client: Any, make_app: Callable[..., Any]
) -> None:
    """The process never saw the update's creation (no reader followed the event then), yet the reader
    filtered on the old session gets the edit that moves the update away, and can remove it."""
    client = await aiohttp_client(make_app())
    await make_event(client)
    for sid, hour in (("s-one", 9), ("s-two", 11)):
        body = {"title": sid, "starts_at": f"2011-10-11T{hour:02d}:00:00+01:00"}
        assert (await client.put(f"/api/events/{EV}/sessions/{sid}", json=body, headers=ADMIN)).status == 201
    created = await client.post(f"/api/events/{EV}/updates", json={"text": "in one", "session": "s-one",
                                                                  "happened_at": AT}, headers=ADMIN)  # fmt: skip
    update = await created.json()
    async with client.ws_connect(f"/ws/events/{EV}?session=s-one") as ws:
        moved = await client.patch(f"/api/events/{EV}/updates/{update['id']}", json={"session": "s-two"},
                                   headers=ADMIN)  # fmt: skip
        assert moved.status == 200
        message = await ws.receive_json(timeout=5)
    assert message["type"] == "edit" and message["data"]["id"] == update["id"]
    assert message["data"]["session"] == "s-two"
