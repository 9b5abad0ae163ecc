"""Redis Cluster: three primaries formed from the bundled valkey-server; each event's scripts stay in one slot
and announce with SPUBLISH on the event's shard channel; live readers follow each event on its shard."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
from aiohttp import web
from redis.crc import key_slot

from config.settings import Settings
from server.appkeys import HUB
from server.embedded import EmbeddedValkey
from server.models import Event, Role, Session, TokenInfo
from server.store import Keys, Store
from tests.conftest import ADMIN, EVENT

SLOTS = 16384
DAY = dt.date(2026, 5, 4)


def _free_cluster_port() -> int:
    """A loopback port whose cluster bus port (+10000) is free too."""
    for _attempt in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def _form(tmp_path: Path, *, replicas: bool) -> Iterator[list[EmbeddedValkey]]:
    """Three primaries on loopback, each with a third of the slots (and with ``replicas``, one replica each,
    nodes 3-5, with a short node timeout so a failover takes about a second); all stopped at the end."""
    nodes: list[EmbeddedValkey] = []
    ports: list[int] = []
    try:
        for i in range(6 if replicas else 3):
            port = _free_cluster_port()
            node = EmbeddedValkey(tmp_path / f"node{i}", extra_args=[
                "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                "--cluster-config-file", str(tmp_path / f"node{i}" / "nodes.conf"),
                *(["--cluster-node-timeout", "1000"] if replicas else []),
            ])  # fmt: skip
            nodes.append(node)
            node.start()
            ports.append(port)
        for i, port in enumerate(ports):
            with redis.Redis(host="127.0.0.1", port=port) as r:
                if i < 3:
                    r.execute_command("CLUSTER", "ADDSLOTSRANGE", i * SLOTS // 3, (i + 1) * SLOTS // 3 - 1)
                if i:
                    r.execute_command("CLUSTER", "MEET", "127.0.0.1", ports[0])
        deadline = time.monotonic() + 20
        for i, port in enumerate(ports):  # gossip has no event to await: poll each node's state, under a deadline
            with redis.Redis(host="127.0.0.1", port=port) as r:
                if i >= 3:
                    with redis.Redis(host="127.0.0.1", port=ports[i - 3]) as primary:
                        primary_id = primary.execute_command("CLUSTER", "MYID")
                    while True:  # a replica can be told its primary once it knows that node
                        try:
                            r.execute_command("CLUSTER", "REPLICATE", primary_id)
                            break
                        except redis.ResponseError:
                            assert time.monotonic() < deadline, "the replica did not learn its primary"
                            time.sleep(0.05)
                while b"cluster_state:ok" not in r.execute_command("CLUSTER", "INFO") or (
                    i >= 3 and r.info("replication").get("master_link_status") != "up"
                ):
                    assert time.monotonic() < deadline, "the cluster did not form"
                    time.sleep(0.05)
        yield nodes
    finally:
        for node in nodes:
            node.stop()


def _port(node: EmbeddedValkey) -> int:
    return int(node.extra_args[1])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[int]]:
    """Three primaries, the ports."""
    for nodes in _form(tmp_path, replicas=False):
        yield [_port(node) for node in nodes]


@pytest.fixture
def cluster_with_replicas(tmp_path: Path) -> Iterator[list[EmbeddedValkey]]:
    """Three primaries (nodes 0-2), and a replica of each (nodes 3-5)."""
    yield from _form(tmp_path, replicas=True)


@pytest.fixture
async def store(cluster: list[int], settings: Settings) -> AsyncIterator[Store]:
    store = await Store.from_settings(
        settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{cluster[1]}", "redis_cluster": True})
    )
    yield store
    await store.aclose()


def _event_on_each_shard(prefix: str = "conf") -> list[str]:
    """One event id whose slot falls in each primary's third."""
    found: dict[int, str] = {}
    n = 0
    while len(found) < 3:
        event = f"{prefix}-{n}"
        found.setdefault(key_slot(event.encode()) * 3 // SLOTS, event)
        n += 1
    return [found[i] for i in range(3)]


def _record(event: str, update_id: str, **changes: object) -> dict[str, object]:
    return {"id": update_id, "event": event, "session": "keynote", "author": {"name": "Ana"},
            "happened_at": "2026-05-04T09:00:00Z", "received_at": "2026-05-04T09:00:00Z", "version": 1,
            "text": update_id, "key": False, "pinned": False, "quote": None, "image": None, "tags": [],
            **changes}  # fmt: skip


async def test_posts_to_events_on_every_shard(store: Store) -> None:
    assert await store.check_durability() == "fsync-always"
    keys = Keys(store.keys.prefix)
    events = _event_on_each_shard()
    await store.create_token(TokenInfo(name="Ana", role=Role.REPORTER, events=events), "ab" * 32, by="test")
    assert (await store.token_by_digest("ab" * 32)) is not None
    for event in events:
        await store.create_event(Event(id=event, title=event, starts_on=DAY, ends_on=DAY))
        nine = dt.datetime(2026, 5, 4, 9, tzinfo=dt.UTC)
        session = Session(id="keynote", event=event, title="Keynote", starts_at=nine, day=DAY)
        await store.put_session(session)
        feed = await store.open_pubsub(shard_of=keys.channel(event))  # on the primary serving the event's slot
        try:
            await feed.subscribe(keys.channel(event))
            confirmed = await feed.read(timeout=5)
            assert confirmed is not None and confirmed.kind == "subscribe"
            first = await store.create_update(event, _record(event, "a1", pinned=True), day=DAY, owner="t1",
                                              idempotency=("t1", "key-1", "fp"))  # fmt: skip
            await store.create_update(event, _record(event, "b2", pinned=True), day=DAY, owner="t1")  # moves the pin
            replay = await store.create_update(event, _record(event, "a1", pinned=True), day=DAY, owner="t1",
                                               idempotency=("t1", "key-1", "fp"))  # fmt: skip
            assert replay.created is False and replay.record["id"] == first.record["id"]
            b = await store.get_update(event, "b2")
            assert b is not None
            await store.edit_update(event, b, {**b, "text": "edited", "version": 2}, old_day=DAY, new_day=DAY)
            a = await store.get_update(event, "a1")
            assert a is not None and a["pinned"] is False
            await store.delete_update(event, a, day=DAY)
            replies = [await feed.read(timeout=5) for _ in range(5)]  # each entry reached the shard, in log order
        finally:
            await feed.aclose()
        assert all(r is not None and r.kind == "message" for r in replies)
        kinds = [r.data.split(b"\n")[1] for r in replies if r is not None]
        assert kinds == [b"update", b"edit", b"update", b"edit", b"delete"]
        updates, _next, _prev = await store.list_updates(event, session="keynote", day=DAY)
        assert [u["text"] for u in updates] == ["edited"]
        assert await store.pinned_id(event) == "b2"
        assert [e.type for e in await store.read_after(event, None)] == ["session", *[k.decode() for k in kinds]]
    await store.put_reader_counts("proc-1", dict.fromkeys(events, 3), 60)
    assert [await store.reader_counts(e) for e in events] == [{"proc-1": 3}] * 3
    assert await store.revoke_token("Ana", by="test")


async def _texts(ws: aiohttp.ClientWebSocketResponse, n: int) -> list[tuple[str, str]]:
    """The next ``n`` messages' (seq, text)."""
    got = []
    async with asyncio.timeout(10):
        while len(got) < n:
            message = json.loads((await ws.receive()).data)
            got.append((message["seq"], message["data"]["text"]))
    return got


async def test_readers_on_every_shard_get_their_events_posts(
    cluster: list[int], aiohttp_client: Any, make_app: Callable[..., web.Application]
) -> None:
    """Two events per primary (different slots on one shard connection): each reader gets exactly its event's
    posts, in order, while posts to all six interleave; a reader resuming with after gets exactly the rest."""
    app = make_app(redis_url=f"redis://127.0.0.1:{cluster[2]}", redis_cluster=True)
    client = await aiohttp_client(app)
    events = [*_event_on_each_shard("conf"), *_event_on_each_shard("talk")]
    for event in events:
        response = await client.post("/api/events", json={**EVENT, "id": event}, headers=ADMIN)
        assert response.status == 201, await response.text()
    response = await client.post("/api/tokens", json={"name": "Ana", "role": "reporter", "events": events},
                                 headers=ADMIN)  # fmt: skip
    headers = {"Authorization": f"Bearer {(await response.json())['token']}"}

    async def post(event: str, text: str) -> tuple[str, str]:
        response = await client.post(f"/api/events/{event}/updates", headers=headers,
                                     json={"text": text, "happened_at": "2011-10-10T10:00:00+01:00"})  # fmt: skip
        assert response.status == 201, await response.text()
        return (await response.json())["seq"], text

    readers = [await client.ws_connect(f"/ws/events/{event}") for event in events]
    try:
        posted: dict[str, list[tuple[str, str]]] = {event: [] for event in events}
        for i in range(4):
            for event in events:
                posted[event].append(await post(event, f"{event} {i}"))
        for event, ws in zip(events, readers, strict=True):
            assert await _texts(ws, 4) == posted[event]
        marks = {event: await post(event, f"{event} mark") for event in events}
        for event, ws in zip(events, readers, strict=True):
            assert await _texts(ws, 1) == [marks[event]]  # nothing else came in between
    finally:
        for ws in readers:
            await ws.close()
    for event in events:
        after = posted[event][1][0]
        async with client.ws_connect(f"/ws/events/{event}?after={after}") as ws:
            assert await _texts(ws, 3) == [*posted[event][2:], marks[event]]
            live = await post(event, f"{event} live")
            assert await _texts(ws, 1) == [live]


async def test_a_primary_killed_mid_run_costs_its_readers_nothing(
    cluster_with_replicas: list[EmbeddedValkey], aiohttp_client: Any, make_app: Callable[..., web.Application]
) -> None:
    """SIGKILL the primary of one event's slot while readers follow an event on every shard: once its replica
    took over, the readers of that event are re-subscribed on it and backfilled, with no gap or duplicate;
    posts are refused only with 503 meanwhile, and every acknowledged post reaches its readers."""
    nodes = cluster_with_replicas
    app = make_app(redis_url=f"redis://127.0.0.1:{_port(nodes[1])}", redis_cluster=True)
    client = await aiohttp_client(app)
    events = _event_on_each_shard()
    for event in events:
        response = await client.post("/api/events", json={**EVENT, "id": event}, headers=ADMIN)
        assert response.status == 201, await response.text()
    response = await client.post("/api/tokens", json={"name": "Ana", "role": "reporter", "events": events},
                                 headers=ADMIN)  # fmt: skip
    headers = {"Authorization": f"Bearer {(await response.json())['token']}"}
    refused = 0

    async def post(event: str, text: str) -> tuple[str, str]:
        nonlocal refused
        async with asyncio.timeout(60):
            while True:  # a client retries a 503, as the desk's outbox does
                body = {"text": text, "happened_at": "2011-10-10T10:00:00+01:00"}
                response = await client.post(f"/api/events/{event}/updates", json=body, headers=headers)
                if response.status == 201:
                    return (await response.json())["seq"], text
                assert response.status == 503, await response.text()
                refused += 1
                await asyncio.sleep(0.1)

    readers = [await client.ws_connect(f"/ws/events/{event}") for event in events]
    try:
        posted: dict[str, list[tuple[str, str]]] = {event: [] for event in events}
        for i in range(3):
            for event in events:
                posted[event].append(await post(event, f"{event} {i}"))
        assert refused == 0
        with redis.Redis(host="127.0.0.1", port=_port(nodes[0])) as victim:
            assert victim.execute_command("WAIT", 1, 5000) == 1  # acknowledged writes reached the replica
        pid = nodes[0].pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        for i in range(3, 8):
            for event in events:
                posted[event].append(await post(event, f"{event} {i}"))
        for event, ws in zip(events, readers, strict=True):
            assert await _texts(ws, len(posted[event])) == posted[event]
        assert refused > 0, "no post met the failover"
        assert app[HUB].broker.reconnects >= 1
        during = refused
        marks = {event: await post(event, f"{event} mark") for event in events}
        for event, ws in zip(events, readers, strict=True):
            assert await _texts(ws, 1) == [marks[event]]  # no duplicate came in between
        assert refused == during  # once the replica took over, nothing is refused
    finally:
        for ws in readers:
            await ws.close()


def _move_slot(slot: int, ports: list[int], source: int, target: int) -> None:
    """Migrate ``slot`` with its keys from primary ``source`` to ``target`` (indexes into ``ports``), as a
    resharding does, and tell every primary."""

    def node(i: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=ports[i])

    with node(source) as src, node(target) as dst:
        src_id, dst_id = src.execute_command("CLUSTER", "MYID"), dst.execute_command("CLUSTER", "MYID")
        dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
        src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
        while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
            src.execute_command("MIGRATE", "127.0.0.1", ports[target], "", 0, 5000, "KEYS", *keys)
        for i in (target, source, *(i for i in range(len(ports)) if i not in (source, target))):
            with node(i) as r:
                r.execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)


async def test_a_moved_slot_moves_its_readers_to_the_new_primary(
    cluster: list[int], aiohttp_client: Any, make_app: Callable[..., web.Application]
) -> None:
    """Resharding one event's slot to another primary: the old primary ends its subscription (sunsubscribe),
    the broker follows it on the new one and backfills, while the other event on the old primary's connection
    stays there; every reader gets exactly its event's posts, in order."""
    app = make_app(redis_url=f"redis://127.0.0.1:{cluster[1]}", redis_cluster=True)
    client = await aiohttp_client(app)
    moved, stays = _event_on_each_shard("conf")[0], _event_on_each_shard("talk")[0]
    events = [moved, stays, _event_on_each_shard("conf")[1]]
    for event in events:
        response = await client.post("/api/events", json={**EVENT, "id": event}, headers=ADMIN)
        assert response.status == 201, await response.text()
    response = await client.post("/api/tokens", json={"name": "Ana", "role": "reporter", "events": events},
                                 headers=ADMIN)  # fmt: skip
    headers = {"Authorization": f"Bearer {(await response.json())['token']}"}

    async def post(event: str, text: str) -> tuple[str, str]:
        body = {"text": text, "happened_at": "2011-10-10T10:00:00+01:00"}
        response = await client.post(f"/api/events/{event}/updates", json=body, headers=headers)
        assert response.status == 201, await response.text()
        return (await response.json())["seq"], text

    readers = [await client.ws_connect(f"/ws/events/{event}") for event in events]
    try:
        posted: dict[str, list[tuple[str, str]]] = {event: [] for event in events}
        for i in range(2):
            for event in events:
                posted[event].append(await post(event, f"{event} {i}"))
        for event, ws in zip(events, readers, strict=True):
            assert await _texts(ws, 2) == posted[event]
        reconnects = app[HUB].broker.reconnects
        await asyncio.to_thread(_move_slot, key_slot(moved.encode()), cluster, 0, 1)
        for i in range(2, 5):
            for event in events:
                posted[event].append(await post(event, f"{event} {i}"))
        for event, ws in zip(events, readers, strict=True):
            assert await _texts(ws, 3) == posted[event][2:]
        assert app[HUB].broker.reconnects > reconnects  # the old primary ended the moved channel
        marks = {event: await post(event, f"{event} mark") for event in events}
        for event, ws in zip(events, readers, strict=True):
            assert await _texts(ws, 1) == [marks[event]]  # no duplicate came in between
    finally:
        for ws in readers:
            await ws.close()
