"""The fault suite: real servers on a real Valkey, posters and resuming readers, one fault per test, one checker.

Run with `make test-faults` (not part of `make test`). Each test prints nothing and asserts the checker's
verdict: no acknowledged update lost, none duplicated, none out of order, for every reader; the figures of the
last run go to var/faults/last-run.jsonl (docs/reliability.md quotes them).
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from tests.conftest import LiveServer, free_port
from tests.faults.checker import Report
from tests.faults.harness import Cluster, FaultyValkey, Workload, port_of, run, setup_event, sigkill
from tests.faults.proxy import Proxy
from tests.test_feeds import _raw_upgrade

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        yield session


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    valkey = FaultyValkey(tmp_path / "valkey")
    valkey.start()
    c = Cluster(tmp_path, valkey)
    yield c
    c.stop()


async def start_servers(cluster: Cluster, n: int = 2, **kwargs: str) -> list[LiveServer]:
    """Start ``n`` servers at once, in threads, so the event loop (and any proxy on it) keeps running."""
    return list(await asyncio.gather(*(asyncio.to_thread(cluster.start_server, **kwargs) for _ in range(n))))


async def workload(http: aiohttp.ClientSession, servers: list[LiveServer], ws: int = 2, sse: int = 2) -> Workload:
    headers = await setup_event(http, servers[0].url)
    work = Workload(http, [s.url for s in servers], headers)
    for i in range(ws + sse):
        # readers spread over the servers; each resumes on the next one when its connection ends
        urls = [s.url for s in servers[i % len(servers) :] + servers[: i % len(servers)]]
        work.add_reader("ws" if i < ws else "sse", urls)
    return work


def assert_held(report: Report, *, all_acked: bool = True) -> None:
    assert report.clean, report
    assert report.unexpected_5xx == 0, report
    if all_acked:
        assert report.unacked == 0 and report.acked == report.final, report


async def redis_admin(cluster: Cluster) -> aioredis.Redis:
    return aioredis.Redis.from_url(cluster.valkey.tcp_url)


async def outage(seconds: float) -> None:
    """How long a fault lasts: the fault's duration, not a wait for something to happen."""
    await asyncio.sleep(seconds)


# --- Redis faults -----------------------------------------------------------------------------------------------


async def test_redis_sigkilled_mid_burst_and_restarted_from_its_aof(
    cluster: Cluster, http: aiohttp.ClientSession
) -> None:
    work = await workload(http, await start_servers(cluster))

    async def fault(work: Workload) -> None:
        await work.acked_at_least(40)
        cluster.valkey.kill()
        await outage(1.0)
        await asyncio.to_thread(cluster.valkey.start)

    assert_held(await run("redis SIGKILL mid-burst, restart from AOF", work, fault))


async def test_pubsub_connection_killed_six_times(cluster: Cluster, http: aiohttp.ClientSession) -> None:
    work = await workload(http, await start_servers(cluster))
    killed = 0

    async def fault(work: Workload) -> None:
        nonlocal killed
        admin = await redis_admin(cluster)
        try:
            for round_ in range(6):
                await work.acked_at_least(15 + 20 * round_)
                killed += int(await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub"))
        finally:
            await admin.aclose()

    report = await run("pub/sub connection killed 6 times", work, fault)
    assert killed >= 6, killed
    assert_held(report)


async def test_redis_stalled_five_seconds(cluster: Cluster, http: aiohttp.ClientSession) -> None:
    work = await workload(http, await start_servers(cluster))

    async def fault(work: Workload) -> None:
        await work.acked_at_least(40)
        cluster.valkey.signal(signal.SIGSTOP)
        try:
            await outage(5.0)
        finally:
            cluster.valkey.signal(signal.SIGCONT)

    assert_held(await run("redis SIGSTOP 5 s", work, fault))


async def test_redis_out_of_memory(cluster: Cluster, http: aiohttp.ClientSession) -> None:
    work = await workload(http, await start_servers(cluster))

    async def fault(work: Workload) -> None:
        await work.acked_at_least(30)
        admin = await redis_admin(cluster)
        try:
            used = int((await admin.info("memory"))["used_memory"])
            await admin.config_set("maxmemory-policy", "noeviction")
            await admin.config_set("maxmemory", str(max(used // 2, 1)))
            await outage(3.0)
            await admin.config_set("maxmemory", "0")
        finally:
            await admin.aclose()

    report = await run("redis out of memory for 3 s", work, fault)
    assert_held(report)


async def test_redis_starting_after_the_servers(cluster: Cluster, http: aiohttp.ClientSession) -> None:
    setup = await start_servers(cluster, 1)
    headers = await setup_event(http, setup[0].url)
    setup[0].stop()
    cluster.valkey.stop()  # SIGTERM: the event and token are in the AOF
    ports = [free_port(), free_port()]
    starting = [asyncio.create_task(asyncio.to_thread(cluster.start_server, port=p, timeout=60)) for p in ports]
    work = Workload(http, [f"http://127.0.0.1:{p}" for p in ports], headers)
    for i, kind in enumerate(("ws", "sse", "ws", "sse")):
        work.add_reader(kind, work.urls[i % 2 :] + work.urls[: i % 2])

    async def fault(work: Workload) -> None:
        await outage(3.0)  # servers up, no store: posts and feeds answer 503 meanwhile
        await asyncio.to_thread(cluster.valkey.start)
        await asyncio.gather(*starting)

    assert_held(await run("redis starts 3 s after the servers", work, fault, wait_readers=False))


async def test_proxy_between_servers_and_redis_adds_latency_resets_and_cuts(
    cluster: Cluster, http: aiohttp.ClientSession
) -> None:
    proxy = Proxy("127.0.0.1", cluster.valkey.port)
    port = await proxy.start()
    try:
        work = await workload(http, await start_servers(cluster, redis_url=f"redis://127.0.0.1:{port}/0"))
        resets = cuts = 0

        async def fault(work: Workload) -> None:
            nonlocal resets, cuts
            await work.acked_at_least(20)
            proxy.latency = 0.05
            await work.acked_at_least(50)
            proxy.latency = 0.0
            for round_ in range(3):
                await work.acked_at_least(60 + 25 * round_)
                resets += proxy.reset()
                await work.acked_at_least(70 + 25 * round_)
                cuts += proxy.cut()

        report = await run("proxy: 50 ms latency, 3 resets, 3 cuts", work, fault, per_poster=50)
        assert resets and cuts, (resets, cuts)
        assert_held(report)
    finally:
        await proxy.close()


# --- server faults ------------------------------------------------------------------------------------------------


async def test_one_of_two_servers_sigkilled(cluster: Cluster, http: aiohttp.ClientSession) -> None:
    servers = await start_servers(cluster)
    work = await workload(http, servers)

    async def fault(work: Workload) -> None:
        await work.acked_at_least(40)
        sigkill(servers[0])
        work.urls = [servers[1].url]  # posters and the final read go to the survivor; readers move by themselves

    assert_held(await run("one of two servers SIGKILLed", work, fault))


async def test_sigterm_under_traffic(cluster: Cluster, http: aiohttp.ClientSession) -> None:
    servers = await start_servers(cluster)
    work = await workload(http, servers)
    exit_code: int | None = None
    took = 0.0

    async def fault(work: Workload) -> None:
        nonlocal exit_code, took
        await work.acked_at_least(40)
        started = time.monotonic()
        servers[0].process.terminate()
        work.urls = [servers[1].url]
        exit_code = await asyncio.to_thread(servers[0].process.wait, 20)
        took = time.monotonic() - started

    report = await run("SIGTERM under traffic", work, fault)
    assert exit_code == 0 and took < 10, (exit_code, took)
    assert_held(report)


async def test_a_reader_that_never_reads(cluster: Cluster, http: aiohttp.ClientSession) -> None:
    servers = await start_servers(cluster, PLENARY_READER_BUFFER_BYTES="65536")
    work = await workload(http, servers)  # two of its readers are on servers[0]
    work.padding = "x" * 9000

    async def fault(work: Workload) -> None:
        stuck = await asyncio.to_thread(_raw_upgrade, port_of(servers[0]))
        try:
            await wait_for(lambda: readers_on(http, servers[0]), lambda n: n == 3, timeout=10)
            await wait_for(lambda: readers_on(http, servers[0]), lambda n: n == 2, timeout=60)  # it was cut
            work.enough = True
        finally:
            stuck.close()

    report = await run("a reader that never reads (9 KB updates)", work, fault, per_poster=500)
    assert_held(report, all_acked=False)
    assert report.unacked == 0 and report.acked == report.final, report


async def test_reconnect_storm_of_300_readers(cluster: Cluster, http: aiohttp.ClientSession) -> None:
    servers = await start_servers(cluster)
    work = await workload(http, servers, ws=0, sse=0)
    for i in range(300):
        work.add_reader("ws" if i % 2 else "sse", [servers[0].url, servers[1].url])

    async def fault(work: Workload) -> None:
        await work.acked_at_least(40)
        sigkill(servers[0])  # all 300 readers reconnect to the other server at once
        work.urls = [servers[1].url]

    assert_held(await run("reconnect storm: 300 readers", work, fault, settle=60.0))


async def test_half_open_reader(cluster: Cluster, http: aiohttp.ClientSession) -> None:
    servers = await start_servers(cluster)
    work = await workload(http, servers, ws=1, sse=1)
    link = Proxy("127.0.0.1", port_of(servers[0]))
    port = await link.start()
    try:
        half_open = work.add_reader("ws", [f"http://127.0.0.1:{port}", servers[0].url])

        async def fault(work: Workload) -> None:
            await work.acked_at_least(30)
            link.silent = True  # both sockets stay open; no byte crosses either way
            await half_open.reconnected.wait()  # it heard nothing for IDLE seconds and came back directly
            # servers[0] then holds the other WebSocket reader and the direct one: the silent one was dropped
            await wait_for(lambda: readers_on(http, servers[0]), lambda n: n == 2, timeout=15)

        report = await run("half-open reader", work, fault)
        assert half_open.log.connects >= 2, "the half-open reader never noticed"
        assert_held(report)
    finally:
        await link.close()


async def readers_on(http: aiohttp.ClientSession, server: LiveServer) -> int:
    """Feed connections open on ``server`` now, from its /metrics."""
    async with http.get(f"{server.url}/metrics") as response:
        text = await response.text()
    return sum(int(float(line.split()[-1])) for line in text.splitlines() if line.startswith("plenary_feed_readers"))


async def wait_for(probe: Callable[[], Awaitable[int]], ok: Callable[[int], bool], timeout: float) -> int:
    """Poll another process's state until ``ok`` (nothing in this process can be awaited for it)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if ok(value) or time.monotonic() > deadline:
            assert ok(value), value
            return value
        await asyncio.sleep(0.2)


# --- answers while the store fails: 503 + Retry-After, at once --------------------------------------------------


async def timed_posts(http: aiohttp.ClientSession, server: LiveServer, headers: dict[str, str],
                      n: int, first: int = 0) -> list[tuple[int, float, str | None]]:  # fmt: skip
    """``n`` posts one after another: (status, seconds, Retry-After) of each."""
    out = []
    for i in range(first, first + n):
        started = time.monotonic()
        body = {"text": f"probe {i}", "happened_at": "2011-10-10T10:00:00+01:00"}
        async with http.post(f"{server.url}/api/events/socitm-2011/updates", json=body,
                             headers={**headers, "Idempotency-Key": f"probe-{i}"}) as response:  # fmt: skip
            out.append((response.status, time.monotonic() - started, response.headers.get("Retry-After")))
    return out


async def test_out_of_memory_answers_503(cluster: Cluster, http: aiohttp.ClientSession) -> None:
    servers = await start_servers(cluster, 1)
    headers = await setup_event(http, servers[0].url)
    admin = await redis_admin(cluster)
    try:
        await admin.config_set("maxmemory-policy", "noeviction")
        await admin.config_set("maxmemory", "1")
        answers = await timed_posts(http, servers[0], headers, 5)
    finally:
        await admin.config_set("maxmemory", "0")
        await admin.aclose()
    assert all(status == 503 and retry_after for status, _, retry_after in answers), answers


async def test_stalled_redis_answers_within_redis_timeout(cluster: Cluster, http: aiohttp.ClientSession) -> None:
    """With Redis stopped, posts answer 503 within redis_timeout (1 s here) and /readyz within 1 s."""
    servers = await start_servers(cluster, 1, PLENARY_REDIS_TIMEOUT="1.0")
    headers = await setup_event(http, servers[0].url)
    cluster.valkey.signal(signal.SIGSTOP)
    try:
        answers = await timed_posts(http, servers[0], headers, 3)
        started = time.monotonic()
        async with http.get(f"{servers[0].url}/readyz") as response:
            ready = (response.status, time.monotonic() - started)
    finally:
        cluster.valkey.signal(signal.SIGCONT)
    slack = 0.5  # scheduling on a loaded 2-core machine
    assert all(status == 503 and retry_after and took < 1.0 + slack for status, took, retry_after in answers), answers
    assert ready[0] == 503 and ready[1] < 1.0 + slack, ready


async def test_reset_store_connections_answer_503(cluster: Cluster, http: aiohttp.ClientSession) -> None:
    proxy = Proxy("127.0.0.1", cluster.valkey.port)
    port = await proxy.start()
    try:
        servers = await start_servers(cluster, 1, redis_url=f"redis://127.0.0.1:{port}/0")
        headers = await setup_event(http, servers[0].url)
        posting = [asyncio.create_task(timed_posts(http, servers[0], headers, 100, first=100 * i)) for i in range(4)]
        while not all(task.done() for task in posting):
            proxy.reset()  # with commands in flight
            await outage(0.1)
        answers = [answer for task in posting for answer in task.result()]
    finally:
        await proxy.close()
    assert all(status in (201, 503) for status, _, _ in answers), answers
