"""`make stack` end to end through Debian's nginx: post on one process, read on both; rolling restarts lose nothing.

Run with `make test-stack` (not part of `make test`): it starts nginx, two servers, a worker and Valkey.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from clients.stack import NGINX, TOPOLOGY, Stack, free_port
from tests.conftest import ADMIN_TOKEN
from tests.faults.harness import EV, Workload, run, setup_event

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.skipif(not NGINX.exists(), reason="Debian's nginx is not installed")]  # fmt: skip


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    # rate limits off: the tests' posters and readers all come from 127.0.0.1
    running = Stack(tmp_path / "data", port=free_port(), admin_token=ADMIN_TOKEN,
                    env={"PLENARY_RATE_LIMITS": "false"}).start()  # fmt: skip
    yield running
    running.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        yield session


async def feed_readers(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(f"{url}/metrics") as response:
        assert response.status == 200, await response.text()
        text = await response.text()
    return sum(int(float(line.split()[-1])) for line in text.splitlines() if line.startswith("plenary_feed_readers"))


def test_the_stack_runs_the_topology(stack: Stack) -> None:
    assert len(stack.servers) == TOPOLOGY["server"][0] == 2
    assert stack.worker is not None and stack.worker.poll() is None
    assert stack.nginx is not None and stack.nginx.poll() is None


async def test_post_on_one_process_read_on_both_through_nginx(stack: Stack, http: aiohttp.ClientSession) -> None:
    headers = await setup_event(http, stack.url)
    work = Workload(http, [stack.url], headers)
    for kind in ("ws", "sse") * 3:
        work.add_reader(kind)  # nginx spreads them over both processes
    for reader in work.readers:
        await reader.connected.wait()
    spread = [await feed_readers(http, stack.server_url(i)) for i in range(2)]
    assert sum(spread) == 6 and min(spread) >= 1, spread  # readers on both processes

    async def no_fault(work: Workload) -> None:
        return

    work.urls = [stack.server_url(0)]  # every post on process 0; readers on both must get them
    report = await run("stack: post on one process, read on both", work, no_fault, posters=2, per_poster=20)
    assert report.clean and report.acked == report.final == 40, report
    assert report.readers == 6 and report.reconnects == 0, report


async def test_rolling_restart_hands_readers_over_with_nothing_lost(stack: Stack, http: aiohttp.ClientSession) -> None:
    headers = await setup_event(http, stack.url)
    work = Workload(http, [stack.url], headers)
    for kind in ("ws", "sse") * 4:
        work.add_reader(kind)

    async def rolling_restart(work: Workload) -> None:
        for i in range(2):
            await work.acked_at_least(30 + 40 * i)
            await asyncio.to_thread(stack.restart_server, i)

    report = await run("stack: rolling restart of both processes", work, rolling_restart, posters=3, per_poster=50,
                       pause=0.05)  # fmt: skip
    assert report.clean and report.acked == report.final == 150, report
    assert report.unexpected_5xx == 0, report
    assert report.reconnects >= 8, report  # every reader was on a restarted process at some point


async def test_sse_is_unbuffered_and_websocket_upgrades(stack: Stack, http: aiohttp.ClientSession) -> None:
    headers = await setup_event(http, stack.url)
    async with http.get(f"{stack.url}/api/events/{EV}/stream") as stream:
        assert stream.status == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
        body = {"text": "through nginx", "happened_at": "2011-10-10T10:00:00+01:00"}
        async with http.post(f"{stack.url}/api/events/{EV}/updates", json=body, headers=headers) as posted:
            assert posted.status == 201
            seq = (await posted.json())["seq"]
        async with asyncio.timeout(5):  # a buffering proxy would hold the event back
            while not (await stream.content.readline()).startswith(b"data: "):
                pass
    ws_url = stack.url.replace("http://", "ws://") + f"/ws/events/{EV}?after=0-0"
    async with http.ws_connect(ws_url) as ws:
        message = json.loads((await ws.receive(timeout=5)).data)
        assert message["seq"] == seq


async def test_client_address_is_forwarded_to_trusted_proxies(stack: Stack, http: aiohttp.ClientSession) -> None:
    """nginx appends the client to X-Forwarded-For; the server believes it because nginx is a trusted proxy."""
    async with http.get(f"{stack.url}/metrics") as response:
        assert response.status == 200  # this client is on loopback: in metrics_allow
    async with http.get(f"{stack.url}/metrics", headers={"X-Forwarded-For": "203.0.113.9"}) as response:
        assert response.status in (401, 403)  # refused: the forwarded address counts, not nginx's 127.0.0.1


async def test_versioned_assets_are_cached_for_a_year(stack: Stack, http: aiohttp.ClientSession) -> None:
    await setup_event(http, stack.url)
    async with http.get(f"{stack.url}/events/{EV}") as page:
        html = await page.text()
    src = html.split('src="', 1)[1].split('"', 1)[0]
    assert "?v=" in src, src
    async with http.get(f"{stack.url}{src}") as asset:
        assert asset.status == 200
        assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"
