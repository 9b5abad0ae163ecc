"""The fault suite's moving parts: a Valkey we can kill, pause and restart, server processes, posters and readers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from server.embedded import EmbeddedValkey
from tests.conftest import ADMIN, ADMIN_TOKEN, EVENT, LiveServer, free_port, start_server
from tests.faults.checker import History, ReaderLog, Report, check, record

EV = EVENT["id"]
AT = "2011-10-10T10:00:00+01:00"
KEEPALIVE = 1.0  # seconds between the servers' pings and SSE comments: a silent reader is noticed in ~3 s
IDLE = 4 * KEEPALIVE  # a reader that hears nothing for this long treats its connection as dead and reconnects


class FaultyValkey(EmbeddedValkey):
    """The bundled Valkey on a loopback TCP port (AOF, fsync always), which a test can kill, pause and restart."""

    def __init__(self, data_dir: Path, port: int | None = None, extra_args: tuple[str, ...] = ()) -> None:
        self.port = port or free_port()
        super().__init__(data_dir, extra_args=["--port", str(self.port), "--bind", "127.0.0.1", *extra_args])

    @property
    def tcp_url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def signal(self, signum: int) -> None:
        assert self.pid is not None, "Valkey is not running"
        os.kill(self.pid, signum)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final fsync; what the AOF holds is what survives."""
        process, self._process = self._process, None
        assert process is not None
        process.kill()
        process.wait()


@dataclass
class Cluster:
    """Server processes on one Valkey, all on one fresh key prefix; everything is stopped by ``stop``."""

    tmp: Path
    valkey: FaultyValkey
    prefix: str = field(default_factory=lambda: f"f{uuid.uuid4().hex[:10]}")
    servers: list[LiveServer] = field(default_factory=list)

    def env(self, redis_url: str | None = None, **extra: str) -> dict[str, str]:
        """Rate limits off: every poster and reader is on 127.0.0.1, and the suite checks delivery, not limits."""
        return {"PLENARY_REDIS_URL": redis_url or self.valkey.tcp_url, "PLENARY_REDIS_PREFIX": self.prefix,
                "PLENARY_ADMIN_TOKEN": ADMIN_TOKEN, "PLENARY_RUN_WORKER": "false",
                "PLENARY_DATA_DIR": str(self.tmp), "PLENARY_KEEPALIVE_SECONDS": str(KEEPALIVE),
                "PLENARY_FREEZE_HEAP": "false", "PLENARY_RATE_LIMITS": "false", **extra}  # fmt: skip

    def start_server(self, port: int | None = None, redis_url: str | None = None, timeout: float = 20.0,
                     **extra: str) -> LiveServer:  # fmt: skip
        """Start a server process and wait until it is ready (blocking: run it in a thread to overlap)."""
        log = self.tmp / f"server-{port or 'any'}-{uuid.uuid4().hex[:4]}.log"  # servers may start in parallel
        server = start_server(self.env(redis_url, **extra), log, port=port, timeout=timeout)
        self.servers.append(server)
        return server

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.valkey.stop()


def port_of(server: LiveServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


async def setup_event(http: aiohttp.ClientSession, base: str) -> dict[str, str]:
    """The event and a reporter token; return the reporter's headers."""
    response = await http.post(f"{base}/api/events", json=EVENT, headers=ADMIN)
    assert response.status == 201, await response.text()
    body = {"name": f"rep{random.randrange(1 << 30)}", "role": "reporter", "events": [EV]}
    response = await http.post(f"{base}/api/tokens", json=body, headers=ADMIN)
    assert response.status == 201, await response.text()
    return {"Authorization": f"Bearer {(await response.json())['token']}"}


class Reader:
    """A WebSocket or SSE reader that resumes after the last seq it received whenever its connection ends."""

    def __init__(self, work: Workload, log: ReaderLog, kind: str, urls: list[str]) -> None:
        self.work, self.log, self.kind, self.urls = work, log, kind, urls
        self.last = "0-0"  # the log of a fresh event is empty: everything comes after 0-0
        self.connected = asyncio.Event()
        self.reconnected = asyncio.Event()  # set on the second connection
        self.task: asyncio.Task[None] | None = None

    def _on(self, message: dict[str, Any]) -> None:
        if message.get("type") == "resync":
            self.log.resyncs += 1
            return
        if "seq" in message:
            self.last = str(message["seq"])
        if message.get("type") == "update":
            self.log.received.append((str(message["data"]["id"]), str(message["seq"])))
            self.work.delivered()

    def _connected(self) -> None:
        self.log.connects += 1
        (self.connected if self.log.connects == 1 else self.reconnected).set()

    async def run(self) -> None:
        for attempt in range(1_000_000):
            url = self.urls[attempt % len(self.urls)]
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError, ValueError):
                await (self._ws(url) if self.kind == "ws" else self._sse(url))
            await asyncio.sleep(random.uniform(0.05, 0.3))  # a reconnect back-off, as browsers do

    async def _ws(self, base: str) -> None:
        url = base.replace("http://", "ws://") + f"/ws/events/{EV}?after={self.last}"
        async with asyncio.timeout(5):
            ws = await self.work.http.ws_connect(url, autoclose=True, autoping=True)
        async with ws:
            self._connected()
            while True:
                frame = await ws.receive(timeout=IDLE)  # autoping answers pings: any frame proves the link
                if frame.type is aiohttp.WSMsgType.TEXT:
                    self._on(json.loads(frame.data))
                elif frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    return

    async def _sse(self, base: str) -> None:
        headers = {"Last-Event-ID": self.last, "Accept": "text/event-stream"}
        async with asyncio.timeout(5):
            response = await self.work.http.get(f"{base}/api/events/{EV}/stream", headers=headers)
        async with response:
            if response.status != 200:
                return
            self._connected()
            fields: dict[str, str] = {}
            while True:
                async with asyncio.timeout(IDLE):  # keep-alive comments arrive every KEEPALIVE seconds
                    raw = await response.content.readline()
                if not raw:
                    return
                line = raw.decode().rstrip("\n")
                if line.startswith(":"):
                    continue
                if line:
                    name, _, value = line.partition(": ")
                    fields[name] = value
                    continue
                if "data" in fields:
                    self._on(json.loads(fields["data"]))
                fields = {}


class Workload:
    """Posters that retry with the same Idempotency-Key until a 201, and readers that resume; one History."""

    def __init__(self, http: aiohttp.ClientSession, urls: list[str], headers: dict[str, str]) -> None:
        self.http, self.urls, self.headers = http, urls, headers
        self.history = History()
        self.enough = False  # a fault sets it to stop the posters early (it has seen what it waited for)
        self.padding = ""  # appended to every posted text (big updates fill slow readers' buffers)
        self.run_id = uuid.uuid4().hex[:6]
        self.readers: list[Reader] = []
        self._progress = asyncio.Condition()
        self._changed = asyncio.Event()

    def delivered(self) -> None:
        self._changed.set()

    def add_reader(self, kind: str, urls: list[str] | None = None) -> Reader:
        reader = Reader(self, self.history.reader(f"{kind}{len(self.readers)}"), kind, urls or self.urls)
        self.readers.append(reader)
        reader.task = asyncio.create_task(reader.run())
        return reader

    async def acked_at_least(self, n: int) -> None:
        """Wait until ``n`` updates were acknowledged (to start a fault mid-burst)."""
        async with self._progress:
            await self._progress.wait_for(lambda: len(self.history.acked) >= n)

    async def poster(self, name: str, count: int, pause: float, urls: list[str] | None = None) -> None:
        for i in range(count):
            if self.enough:
                return
            await self._post(f"{self.run_id}{name}-{i}", urls or self.urls)
            await asyncio.sleep(pause)  # pacing, so the burst spans the fault

    async def _post(self, key: str, urls: list[str]) -> None:
        history = self.history
        body = {"text": f"{key} update {self.padding}".rstrip(), "happened_at": AT}
        headers = {**self.headers, "Idempotency-Key": key}
        deadline = time.monotonic() + 90
        attempt = random.randrange(len(urls))
        while time.monotonic() < deadline:
            url = f"{urls[attempt % len(urls)]}/api/events/{EV}/updates"
            attempt += 1
            history.attempts += 1
            started = time.monotonic()
            try:
                async with asyncio.timeout(10), self.http.post(url, json=body, headers=headers) as response:
                    status, retry_after = response.status, response.headers.get("Retry-After")
                    data = await response.json(content_type=None) if status == 201 else None
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
                history.slowest_answer = max(history.slowest_answer, time.monotonic() - started)
                history.errors[type(exc).__name__] += 1
                await asyncio.sleep(0.2)
                continue
            history.slowest_answer = max(history.slowest_answer, time.monotonic() - started)
            history.statuses[status] += 1
            if status == 201 and data is not None:
                history.acked[key] = (str(data["id"]), str(data["seq"]))
                async with self._progress:
                    self._progress.notify_all()
                return
            if status == 429 or status >= 500:
                await asyncio.sleep(min(float(retry_after or 0.2), 1.0))
                continue
            history.errors[f"http {status}"] += 1  # a valid post refused: reported, not retried
            break
        history.unacked.add(key)

    async def final_list(self) -> list[dict[str, Any]]:
        """Every update of the event, oldest first, through the list API (retried while the store recovers)."""
        deadline = time.monotonic() + 30
        while True:
            try:
                return await self._list(self.urls[0])
            except (aiohttp.ClientError, OSError, TimeoutError, AssertionError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)

    async def _list(self, base: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        after = "0-0"
        while True:
            async with self.http.get(f"{base}/api/events/{EV}/updates", params={"after": after, "limit": "200"}) as r:
                assert r.status == 200, await r.text()
                page = await r.json()
            out.extend(page["updates"])
            if not page["updates"] or not page.get("next"):
                return out
            after = page["next"]

    async def settle(self, final: list[dict[str, Any]], timeout: float = 30.0) -> None:
        """Wait until every reader has received every update of the final list, or ``timeout`` passes."""
        wanted = {str(u["id"]) for u in final}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(wanted <= {i for i, _ in r.log.received} for r in self.readers):
                return
            self._changed.clear()
            try:
                async with asyncio.timeout(min(1.0, max(deadline - time.monotonic(), 0.01))):
                    await self._changed.wait()
            except TimeoutError:
                pass

    async def stop_readers(self) -> None:
        tasks = [r.task for r in self.readers if r.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


Fault = Callable[[Workload], Awaitable[None]]


async def run(name: str, work: Workload, fault: Fault, *, posters: int = 4, per_poster: int = 40,
              pause: float = 0.03, settle: float = 30.0, wait_readers: bool = True) -> Report:  # fmt: skip
    """Readers already added; post ``posters`` × ``per_poster`` updates while ``fault`` runs, then check."""
    started = time.monotonic()
    async with asyncio.timeout(30):
        for reader in work.readers if wait_readers else ():
            await reader.connected.wait()
    posting = [asyncio.create_task(work.poster(f"p{i}", per_poster, pause)) for i in range(posters)]
    try:
        async with asyncio.timeout(120):
            await asyncio.gather(fault(work), *posting)
    except TimeoutError:
        work.history.stalled = True  # still check what happened so far; the report is not clean
    finally:
        for task in posting:
            task.cancel()
    final = await work.final_list()
    await work.settle(final, timeout=settle)
    await work.stop_readers()
    report = check(name, work.history, final, time.monotonic() - started)
    record(report)
    return report


def sigkill(server: LiveServer) -> None:
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
