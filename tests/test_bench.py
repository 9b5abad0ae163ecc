"""plenary bench: its seq checker, latency statistics and frame counting, and a 100-reader smoke run."""

from __future__ import annotations

import asyncio
import json
import math
import socket
import time
from typing import Any, cast

from aiohttp.test_utils import TestClient

from bench.readers import FeedReader, Generator, RawTransport, Stats, pong_frame
from bench.run import Options, Target, run_scenarios
from bench.stats import Histogram, Latency, SeqChecker, arrival_latencies, mark_text, percentile, table
from server.appkeys import STORE
from server.feed.wire import ws_close_frame, ws_frame
from tests.conftest import ADMIN_TOKEN, EVENT, LiveServer, make_event, make_token


def test_seq_checker_detects_a_lost_message() -> None:
    checker = SeqChecker()
    for k, seq in [(1, "100-0"), (2, "100-1"), (4, "101-0")]:
        checker.observe(k, seq)
    found = checker.check([1, 2, 3, 4])
    assert (found.lost, found.duplicated, found.disordered) == (1, 0, 0)


def test_seq_checker_detects_a_duplicated_message() -> None:
    checker = SeqChecker()
    for k, seq in [(1, "100-0"), (2, "100-1"), (2, "100-1"), (3, "102-0")]:
        checker.observe(k, seq)
    found = checker.check([1, 2, 3])
    assert (found.lost, found.duplicated, found.disordered) == (0, 1, 0)
    assert checker.last_seq == "102-0"


def test_seq_checker_detects_disorder_and_compares_seqs_as_numbers() -> None:
    checker = SeqChecker()
    checker.observe(1, "9-0")
    checker.observe(2, "10-0")  # later than 9-0 although "10-0" < "9-0" as text
    checker.observe(3, "9-5")
    found = checker.check([1, 2, 3])
    assert (found.lost, found.duplicated, found.disordered) == (0, 0, 1)


def test_latency_percentiles() -> None:
    values = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    assert percentile(values, 0.5) == 0.050
    assert percentile(values, 0.99) == 0.099
    assert math.isnan(percentile([], 0.5))
    latency = Latency()
    latency.extend(reversed(values))
    summary = latency.summary()
    assert summary["count"] == 100
    assert math.isclose(summary["p50_ms"], 50) and math.isclose(summary["p99_ms"], 99)
    assert math.isclose(summary["max_ms"], 100)
    assert "p99 ms" in table([{"scenario": "fixed", **summary}])


def test_every_readers_latency_from_arrival_times() -> None:
    """Frame i of a reader is message i: latencies come from arrival minus send time, and a reader that got
    fewer frames than were posted counts as missing them."""
    ms = 1_000_000
    posted = [1000 * ms, 1100 * ms, 1200 * ms, 1300 * ms]
    histogram = Histogram()
    missing = arrival_latencies([1005 * ms, 1120 * ms, 1203 * ms, 1340 * ms], posted, 1, 4, histogram)  # 20, 3, 40
    missing += arrival_latencies([1001 * ms, 1101 * ms], posted, 1, 4, histogram)  # 1 ms, then two never came
    assert missing == 2 and histogram.count == 4
    summary = histogram.summary()
    assert math.isclose(summary["p50_ms"], 3.1) and math.isclose(summary["max_ms"], 40.1)  # 0.1 ms buckets
    merged = Histogram()
    merged.merge(histogram.buckets)
    merged.merge({400: 1})
    assert merged.count == 5 and math.isclose(merged.quantile(0.99) * 1000, 40.1)


class _Transport:
    """Collects what a reader writes (its pongs); the parser needs nothing else from a transport."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)


async def test_frame_counting_survives_any_split() -> None:
    """Data frames (short, 16-bit and tracked), a ping and a close, fed in pieces of every size."""
    messages = [json.dumps({"type": "update", "seq": f"5-{k}", "data": {"text": mark_text(k, 1, pad)}})
                for k, pad in [(1, 10), (2, 300), (3, 70_000)]]  # fmt: skip
    head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
    frames = [ws_frame(0x1, messages[0].encode()), ws_frame(0x9, b"hi"), ws_frame(0x1, messages[1].encode()),
              ws_frame(0x1, messages[2].encode()), ws_close_frame(4008, "slow")]  # fmt: skip
    stream = head + b"".join(frames)
    for track in (False, True):
        for size in (1, 2, 3, 7, 100, len(stream), 0):  # 0: one frame per read (the reader's fast path)
            stats = Stats()
            reader = FeedReader(stats, "json", b"", track=track)
            transport = _Transport()
            reader.transport = cast(RawTransport, transport)
            reads = [head, *frames] if size == 0 else [stream[i : i + size] for i in range(0, len(stream), size)]
            for k, read in enumerate(reads, 1):
                reader.data_received(read, 1000 * k)  # each read's receive time: k µs
            assert (stats.frames, stats.bytes, stats.open) == (3, len(stream), 1), (track, size)
            assert len(reader.arrivals) == 3 and list(reader.arrivals) == sorted(reader.arrivals)
            assert set(reader.arrivals) <= {1000 * k for k in range(1, len(reads) + 1)}  # a read's time, not now
            if size == 0:
                assert list(reader.arrivals) == [2000, 4000, 5000]  # the reads holding the three data frames
            assert stats.codes == {4008: 1} and transport.written == [pong_frame(b"hi")]
            if track:
                assert reader.checker is not None
                found = reader.checker.check([1, 2, 3])
                assert (found.lost, found.duplicated, reader.checker.last_seq) == (0, 0, "5-3")


async def test_sse_event_counting_survives_any_split() -> None:
    """SSE events (inside HTTP/1.1 chunks, as the server sends them), fed in pieces of every size."""
    bodies = [json.dumps({"type": "update", "seq": f"5-{k}", "data": {"text": mark_text(k, 1)}}) for k in range(3)]
    events = [f"id: 5-{k}\nevent: update\ndata: {body}\n\n".encode() for k, body in enumerate(bodies)]
    stream = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    stream += b"".join(b"%x\r\n%s\r\n" % (len(event), event) for event in events)
    for size in range(1, 40):
        stats = Stats()
        reader = FeedReader(stats, "sse", b"", track=False)
        reader.transport = cast(RawTransport, _Transport())
        for i in range(0, len(stream), size):
            reader.data_received(stream[i : i + size])
        assert (stats.frames, len(reader.arrivals), stats.open) == (3, 3, 1), size
    tracked = FeedReader(Stats(), "sse", b"", track=True)
    tracked.transport = cast(RawTransport, _Transport())
    tracked.data_received(stream)
    assert tracked.checker is not None and tracked.checker.last_seq == "5-2"
    found = tracked.checker.check([0, 1, 2])
    assert (found.lost, found.duplicated, found.disordered) == (0, 0, 0)


async def test_arrival_is_when_a_frame_reached_the_socket_not_when_the_generator_read_it() -> None:
    """A generator behind on its reading still times frames by the kernel's receive time."""
    generator = Generator(0)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        generator.host, generator.port = "127.0.0.1", listener.getsockname()[1]
        opening = asyncio.create_task(generator._open("/feed", "127.0.0.1", track=False))
        server, _ = await asyncio.get_running_loop().sock_accept(listener)
        try:
            server.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
            for _ in range(100):
                generator.read()
                if opening.done():
                    break
                await asyncio.sleep(0.01)
            reader = await opening
            assert reader is not None
            sent = time.time_ns()
            server.sendall(ws_frame(0x1, b'{"type": "update"}'))
            await asyncio.sleep(0.3)  # the generator is busy elsewhere
            generator.read()
            [arrived] = reader.arrivals
            assert sent <= arrived < sent + 100_000_000 and time.time_ns() - arrived >= 300_000_000
        finally:
            generator.close()
            server.close()


def _options(**changes: Any) -> Options:
    base = {"readers": 100, "feed": "json", "rate": 10.0, "duration": 2.0, "probes": 2, "gen_procs": 1,
            "gen_cpus": None, "pad": 20, "concurrency": 50, "sources": 2}  # fmt: skip
    return Options(**{**base, **changes})


async def test_smoke_run_against_a_real_server(live_server: LiveServer) -> None:
    """100 raw readers and 2 probes on a `python -m server` process: all connect, every frame counted."""
    target = Target(live_server.url, ADMIN_TOKEN, live_server.process.pid)
    async with asyncio.timeout(40):
        [row] = await run_scenarios(target, _options(), ["fixed"], 1)
    assert row["connected"] == 100 and row["connect_failed"] == 0
    assert row["posts_acked"] > 0 and row["post_errors"] == 0 and not row["probe_errors"]
    assert (row["lost"], row["duplicated"], row["disordered"]) == (0, 0, 0)
    assert row["deliveries_per_s"] > 0
    assert row["frames_total"] == row["frames_expected"] and row["frames"] > 0
    assert row["all_missing"] == 0 and 0 < row["all_p50_ms"] <= row["all_p99_ms"] <= row["all_max_ms"] < 5000
    assert row["kib_per_reader"] is not None and row["server_cpu_pct"] is not None


async def test_resume_storm_loses_nothing(live_server: LiveServer) -> None:
    """100 tracking readers drop at once and resume with after while posts go on."""
    target = Target(live_server.url, ADMIN_TOKEN, live_server.process.pid)
    async with asyncio.timeout(40):
        [row] = await run_scenarios(target, _options(duration=3.0, storm=True), ["storm"], 1)
    assert row["resumed"] == 100 and row["without_seq"] == 0
    assert (row["lost"], row["duplicated"], row["disordered"]) == (0, 0, 0)
    assert row["readers_with_loss"] == 0 and row["posts_acked"] > 0


async def test_resume_is_served_from_the_hubs_memory(client: TestClient) -> None:  # type: ignore[type-arg]
    """The resume storm's fast path: a reader resuming with an after that the hub dispatched recently gets
    what followed it from memory (shown by deleting the log first), then live messages, each once."""
    await make_event(client)
    headers = await make_token(client, "Drew")
    ev = EVENT["id"]

    async def post(text: str) -> str:
        body = {"text": text, "happened_at": "2011-10-10T10:00:00+01:00"}
        response = await client.post(f"/api/events/{ev}/updates", json=body, headers=headers)
        assert response.status == 201
        return str((await response.json())["seq"])

    async with client.ws_connect(f"/ws/events/{ev}") as live:
        seqs = [await post(f"u{i}") for i in range(3)]
        assert [json.loads((await live.receive(timeout=5)).data)["seq"] for _ in seqs] == seqs
        store = client.app[STORE]
        await store.client.delete(store.keys.log(ev))
        async with client.ws_connect(f"/ws/events/{ev}?after={seqs[0]}") as ws:
            resumed = [json.loads((await ws.receive(timeout=5)).data)["seq"] for _ in range(2)]
            assert resumed == seqs[1:]
            later = await post("u3")
            assert json.loads((await ws.receive(timeout=5)).data)["seq"] == later
