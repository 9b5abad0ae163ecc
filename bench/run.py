"""plenary bench (python -m bench): load a live feed with N readers and a publisher; print and save delivery figures."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import multiprocessing
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bench.readers import MSGPACK_PROTOCOL, generator_main, raise_nofile
from bench.stats import MARK, Check, Histogram, Latency, SeqChecker, mark_text, seq_key, table
from clients.ready import wait_ready

MATRIX_READERS = (1000, 5000, 10000)


# --- the server under test ---------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    tree, out, todo = _children(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(tree.get(p, []))
    return out


def rss_kib(pids: list[int]) -> int:
    """Resident memory of these processes together, KiB (VmRSS)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time these processes used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError), open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / tick


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpus(spec: str) -> list[int]:
    out: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


@dataclass
class Target:
    """A server to load: its URL, an admin token, and (when known) its root process id."""

    url: str
    token: str
    pid: int | None = None

    def pids(self) -> list[int]:
        return process_tree(self.pid) if self.pid else []


@contextlib.contextmanager
def spawned_server(processes: int, pin: list[int] | None, others: list[int] | None) -> Iterator[Target]:
    """Start the embedded store and `python -m server` on a free loopback port (under taskset when pinned);
    stop both at the end. The open-file limit raised in this process is inherited by the server."""
    from server.embedded import EmbeddedValkey

    workdir = Path(tempfile.mkdtemp(prefix="plenary-bench-"))
    store = EmbeddedValkey(workdir / "store")
    url = store.start()
    server: subprocess.Popen[bytes] | None = None
    try:
        if others and store.pid:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(store.pid, others)
        port, token = _free_port(), secrets.token_hex(16)
        env = {**os.environ, "PLENARY_REDIS_URL": url, "PLENARY_ADMIN_TOKEN": token, "PLENARY_RUN_WORKER": "false",
               "PLENARY_HOST": "127.0.0.1", "PLENARY_PORT": str(port), "PLENARY_DATA_DIR": str(workdir),
               "PLENARY_PROCESSES": str(processes), "PLENARY_LOG_LEVEL": "WARNING",
               "PLENARY_REDIS_PREFIX": "bench", "PLENARY_RATE_LIMITS": "false",
               "PLENARY_MAX_CONNECTIONS_PER_ADDRESS": "100000", "PLENARY_MAX_FEEDS_PER_PROCESS": "100000"}  # fmt: skip
        command = [sys.executable, "-m", "server"]
        if pin and shutil.which("taskset"):
            command = ["taskset", "-c", ",".join(map(str, pin)), *command]
        log = workdir / "server.log"
        with log.open("wb") as handle:
            server = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
        wait_ready(port, server, log, answers=3 * processes)
        yield Target(f"http://127.0.0.1:{port}", token, server.pid)
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        store.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# --- publisher and probes ----------------------------------------------------------------------------


@dataclass
class Publisher:
    """Posts updates through the real API at a fixed rate, each with an Idempotency-Key and a mark
    (post number and send time) in its text."""

    http: aiohttp.ClientSession
    url: str
    event: str
    token: str
    pad: int
    max_in_flight: int = 256
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    next_k: int = 1
    acked: list[int] = field(default_factory=list)
    posted: list[tuple[tuple[int, int], int]] = field(default_factory=list)  # (seq order, send time) when acked
    ack: list[tuple[float, float]] = field(default_factory=list)  # (time acknowledged, seconds)
    errors: int = 0
    skipped: int = 0
    in_flight: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def _post(self, k: int) -> None:
        self.in_flight += 1
        t0 = time.time_ns()
        body: dict[str, Any] = {"text": mark_text(k, t0, self.pad), "tags": ["bench"]}
        headers = {"Authorization": f"Bearer {self.token}", "Idempotency-Key": f"bench-{self.run_id}-{k}"}
        try:
            async with self.http.post(f"{self.url}/api/events/{self.event}/updates", json=body,
                                      headers=headers) as response:  # fmt: skip
                payload = await response.read()
                now = time.time_ns()
                if response.status == 201:
                    seq = seq_key(json.loads(payload)["seq"])
                    self.acked.append(k)
                    self.posted.append((seq, t0))
                    self.ack.append((time.monotonic(), (now - t0) / 1e9))
                else:
                    self.errors += 1
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError, KeyError):
            self.errors += 1
        finally:
            self.in_flight -= 1

    async def run(self, rate: float, seconds: float) -> int:
        """Post at ``rate`` per second for ``seconds``; return how many posts were started. A post due while
        ``max_in_flight`` are unanswered is skipped (counted): the server is not keeping up."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        started = 0
        i = 0
        while True:
            due = start + i / rate
            if due - start >= seconds:
                break
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            i += 1
            if self.in_flight >= self.max_in_flight:
                self.skipped += 1
                continue
            task = asyncio.create_task(self._post(self.next_k))
            self.next_k += 1
            started += 1
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return started

    async def drain(self, timeout: float = 10.0) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    def send_times(self) -> list[int]:
        """When each acknowledged post was sent, in seq order (the order readers get them)."""
        return [t for _seq, t in sorted(self.posted)]


class Probe:
    """A reader that decodes every message (aiohttp client): post→receive latency and the seq checker."""

    def __init__(self, http: aiohttp.ClientSession, base: str, event: str, feed: str) -> None:
        self.http = http
        self.base = base
        self.event = event
        self.feed = feed
        self.checker = SeqChecker()
        self.latency: list[tuple[float, float]] = []  # (time received, seconds)
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.error: str | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    def _observe(self, message: dict[str, Any]) -> None:
        data = message.get("data") or {}
        match = MARK.search(str(data.get("text", "")).encode())
        if match is None:
            return
        now = time.time_ns()
        self.latency.append((time.monotonic(), (now - int(match[2])) / 1e9))
        self.checker.observe(int(match[1]), str(message.get("seq")))

    async def _run(self) -> None:
        try:
            if self.feed == "sse":
                await self._run_sse()
            else:
                await self._run_ws()
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            self.error = repr(exc)
        finally:
            self.ready.set()

    async def _run_ws(self) -> None:
        import msgpack

        url = self.base.replace("http", "ws", 1) + f"/ws/events/{self.event}"
        protocols = (MSGPACK_PROTOCOL,) if self.feed == "msgpack" else ()
        async with self.http.ws_connect(url, protocols=protocols, heartbeat=None, max_msg_size=0) as ws:
            self.ready.set()
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self._observe(json.loads(msg.data))
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    self._observe(msgpack.unpackb(msg.data, raw=False))
                else:
                    break
            if ws.close_code not in (None, 1000, 1001):
                self.error = f"closed with {ws.close_code}"

    async def _run_sse(self) -> None:
        url = f"{self.base}/api/events/{self.event}/stream"
        async with self.http.get(url, timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as response:
            self.ready.set()
            async for line in response.content:
                if line.startswith(b"data: "):
                    self._observe(json.loads(line[6:]))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


# --- generator processes -----------------------------------------------------------------------------


class Generators:
    """The reader processes; each answers one command at a time over its pipe."""

    def __init__(self, count: int, cpus: list[int] | None, poll: bool) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        for index in range(count):
            parent, child = context.Pipe()
            process = context.Process(target=generator_main, args=(child, index, cpus, poll), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)

    async def ask(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        for pipe, command in zip(self.pipes, commands, strict=True):
            pipe.send(command)
        return list(await asyncio.gather(*(loop.run_in_executor(None, pipe.recv) for pipe in self.pipes)))

    async def all(self, command: dict[str, Any]) -> list[dict[str, Any]]:
        return await self.ask([dict(command) for _ in self.pipes])

    async def counts(self) -> dict[str, Any]:
        replies = await self.all({"op": "counts"})
        codes: dict[int, int] = {}
        for reply in replies:
            for code, n in reply["codes"].items():
                codes[code] = codes.get(code, 0) + n
        return {"frames": sum(r["frames"] for r in replies), "bytes": sum(r["bytes"] for r in replies),
                "open": sum(r["open"] for r in replies), "cpu": sum(r["cpu"] for r in replies),
                "codes": codes, "time": time.monotonic()}  # fmt: skip

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.all({"op": "close"}), 10)
        for process in self.processes:
            process.join(5)
            if process.is_alive():
                process.terminate()
                process.join()


def _split(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


# --- one run -----------------------------------------------------------------------------------------


@dataclass
class Options:
    readers: int
    feed: str
    rate: float
    duration: float
    probes: int
    gen_procs: int
    gen_cpus: list[int] | None
    pad: int
    concurrency: int
    sources: int
    storm: bool = False
    step_seconds: float = 3.0
    warmup: float = 2.0
    gen_poll: bool = True


class Bench:
    """One event, N readers, the probes and the publisher against one target."""

    def __init__(self, target: Target, options: Options, http: aiohttp.ClientSession) -> None:
        self.target = target
        self.o = options
        self.http = http
        self.event = f"bench-{secrets.token_hex(4)}"
        self.probes: list[Probe] = []
        self.generators: Generators | None = None
        self.publisher: Publisher | None = None
        self.row: dict[str, Any] = {}

    async def setup(self) -> None:
        admin = {"Authorization": f"Bearer {self.target.token}"}
        today = dt.datetime.now(dt.UTC).date().isoformat()
        body: dict[str, Any] = {"id": self.event, "title": "Bench", "starts_on": today, "ends_on": today}
        async with self.http.post(f"{self.target.url}/api/events", json=body, headers=admin) as response:
            if response.status != 201:
                raise RuntimeError(f"creating the bench event: {response.status} {await response.text()}")
        body = {"name": f"bench-{secrets.token_hex(3)}", "role": "reporter", "events": [self.event]}
        async with self.http.post(f"{self.target.url}/api/tokens", json=body, headers=admin) as response:
            if response.status != 201:
                raise RuntimeError(f"creating the reporter token: {response.status} {await response.text()}")
            token = (await response.json())["token"]
        self.publisher = Publisher(self.http, self.target.url, self.event, token, self.o.pad)

    def _path(self) -> str:
        if self.o.feed == "sse":
            return f"/api/events/{self.event}/stream"
        return f"/ws/events/{self.event}"

    async def connect(self) -> None:
        """Measure idle RSS, open the probes and the N readers, measure RSS again."""
        pids = self.target.pids()
        self.row["rss_idle_kib"] = rss_kib(pids) if pids else None
        for _ in range(self.o.probes):
            probe = Probe(self.http, self.target.url, self.event, self.o.feed)
            probe.start()
            self.probes.append(probe)
        await asyncio.gather(*(p.ready.wait() for p in self.probes))
        self.generators = Generators(self.o.gen_procs, self.o.gen_cpus, self.o.gen_poll)
        split = urlsplit(self.target.url)
        host, port = split.hostname or "127.0.0.1", split.port or 80
        started = time.monotonic()
        replies = await self.generators.ask([
            {"op": "connect", "n": n, "host": host, "port": port, "path": self._path(), "feed": self.o.feed,
             "track": self.o.storm, "concurrency": max(1, self.o.concurrency // self.o.gen_procs),
             "sources": self.o.sources}
            for n in _split(self.o.readers, self.o.gen_procs)
        ])  # fmt: skip
        self.row["connected"] = sum(r["connected"] for r in replies)
        self.row["connect_failed"] = sum(r["failed"] for r in replies)
        self.row["connect_s"] = time.monotonic() - started
        await asyncio.sleep(2.0)
        pids = self.target.pids()
        if pids and self.row["rss_idle_kib"] is not None:
            rss = rss_kib(pids)
            self.row["rss_readers_kib"] = rss
            self.row["kib_per_reader"] = (rss - self.row["rss_idle_kib"]) / max(1, self.row["connected"])

    async def _window(self, run: Any) -> dict[str, Any]:
        """Run ``run`` (a coroutine) between two counter snapshots; deliveries, CPU, latency of the window."""
        assert self.generators is not None
        pids = self.target.pids()
        before = await self.generators.counts()
        cpu0, t0 = cpu_seconds(pids), time.monotonic()
        result = await run
        after = await self.generators.counts()
        cpu1, t1 = cpu_seconds(pids), time.monotonic()
        seconds = after["time"] - before["time"]
        frames = after["frames"] - before["frames"]
        latency = self._probe_latency(t0, t1)
        return {
            "result": result,
            "seconds": seconds,
            "frames": frames,
            "deliveries_per_s": frames / seconds if seconds else math.nan,
            "bytes_per_frame": (after["bytes"] - before["bytes"]) / frames if frames else math.nan,
            "server_cpu_pct": 100 * (cpu1 - cpu0) / (t1 - t0) if pids else None,
            "gen_cpu_pct": 100 * (after["cpu"] - before["cpu"]) / seconds if seconds else math.nan,
            "open": after["open"],
            "close_codes": after["codes"],
            **latency.summary(),
        }

    def _probe_latency(self, since: float, until: float = math.inf) -> Latency:
        """The probes' post→receive latencies of messages received between ``since`` and ``until``."""
        latency = Latency()
        for probe in self.probes:
            latency.extend(s for at, s in probe.latency if since <= at <= until)
        return latency

    def _acks(self, since: float) -> dict[str, float]:
        assert self.publisher is not None
        values = sorted(s for at, s in self.publisher.ack if at >= since)
        summary = Latency(values).summary()
        return {"ack_p50_ms": summary["p50_ms"], "ack_p99_ms": summary["p99_ms"], "ack_max_ms": summary["max_ms"]}

    async def fixed(self) -> dict[str, Any]:
        """Post at the fixed rate for the warm-up and then the duration, without a pause, and measure both.

        The warm-up is reported apart: on loopback, the first ~16 messages to each fresh connection cost the
        server's core more (the readers' kernel acknowledges them at once, inside the server's send()), which
        remote readers' machines would do themselves (see docs/performance.md). There is no pause between the
        two: a connection that was idle longer than its retransmission time-out (~200 ms) goes back to
        acknowledging at once. ``frames_expected`` is every acknowledged post so far times the readers open.
        """
        assert self.publisher is not None and self.generators is not None
        row: dict[str, Any] = {**self.row, "scenario": "fixed", "rate": self.o.rate}
        first = len(self.publisher.acked)
        publishing = asyncio.create_task(self._publish(self.o.rate, self.o.warmup + self.o.duration))
        if self.o.warmup > 0:
            warm_since = time.monotonic()
            await asyncio.sleep(self.o.warmup)
            row["warmup_p99_ms"] = self._probe_latency(warm_since).summary()["p99_ms"]
        since = time.monotonic()
        start = len(self.publisher.acked)
        window = await self._window(publishing)
        end = len(self.publisher.acked)
        row.update({**_pick(window), **self._acks(since)})
        row.update(await self._all_readers(start, end))
        if self.o.warmup > 0:
            row["warmup_all_p99_ms"] = (await self._all_readers(first, start))["all_p99_ms"]
        row["posts"] = end - start
        row["frames_total"] = (await self.generators.counts())["frames"]  # asked last: the final frames are in
        row["frames_expected"] = end * row["open"]
        return row

    async def _all_readers(self, start: int, end: int) -> dict[str, Any]:
        """Post→receive latency over every cheap reader for acknowledged posts ``start``..``end - 1`` (in seq
        order), from the arrival times the generators kept; ``all_missing``: frames that never came. Not known
        (NaN) once a post has failed: the server may have written it, and frame i would no longer be post i."""
        assert self.generators is not None and self.publisher is not None
        if self.publisher.errors:
            return {"all_p50_ms": math.nan, "all_p99_ms": math.nan, "all_max_ms": math.nan, "all_missing": None}
        posted = self.publisher.send_times()[:end]
        replies = await self.generators.all({"op": "latency", "posted": posted, "start": start, "end": end})
        histogram = Histogram()
        for reply in replies:
            histogram.merge(reply["buckets"])
        summary = histogram.summary()
        return {"all_p50_ms": summary["p50_ms"], "all_p99_ms": summary["p99_ms"], "all_max_ms": summary["max_ms"],
                "all_missing": sum(r["missing"] for r in replies)}  # fmt: skip

    async def _publish(self, rate: float, seconds: float) -> int:
        assert self.publisher is not None
        started = await self.publisher.run(rate, seconds)
        await self.publisher.drain()
        await asyncio.sleep(0.5)  # let the last posts reach every reader
        return started

    async def saturate(self) -> dict[str, Any]:
        """Raise the rate step by step until p99 passes 1 s or deliveries fall behind the posts."""
        assert self.publisher is not None
        n = max(1, self.row.get("connected", self.o.readers))
        rate = max(2.0, 20_000 / n)
        steps: list[dict[str, Any]] = []
        best: dict[str, Any] | None = None
        for _ in range(20):
            since = time.monotonic()
            acked0 = len(self.publisher.acked)
            window = await self._window(self.publisher.run(rate, self.o.step_seconds))
            acked = len(self.publisher.acked) - acked0
            expected = acked * n / window["seconds"]
            step = {"rate": rate, **_pick(window), **self._acks(since), "expected_per_s": expected,
                    "skipped": self.publisher.skipped}  # fmt: skip
            steps.append(step)
            behind = window["deliveries_per_s"] < 0.85 * expected or self.publisher.skipped > 0
            slow = not window["p99_ms"] <= 1000
            step["within_limits"] = not (behind or slow)
            if best is None or (step["within_limits"] and step["deliveries_per_s"] > best["deliveries_per_s"]):
                best = step  # the best step that kept up with p99 <= 1 s (the first step if none did)
            print(f"  saturate R={rate:.0f}/s: {window['deliveries_per_s']:,.0f} deliveries/s "
                  f"(posted for {expected:,.0f}/s), p99 {window['p99_ms']:.0f} ms"
                  f"{' (behind)' if behind else ''}{' (slow)' if slow else ''}", flush=True)  # fmt: skip
            if behind or slow:
                break
            rate *= 1.4
        await self.publisher.drain()
        await asyncio.sleep(2.0)
        assert best is not None
        return {**self.row, "scenario": "saturate", **best, "steps": steps}

    async def storm(self) -> dict[str, Any]:
        """Readers (all tracking) drop at once and reconnect with after while posts go on."""
        assert self.generators is not None and self.publisher is not None
        publishing = asyncio.create_task(self._publish(self.o.rate, self.o.duration))
        await asyncio.sleep(min(2.0, self.o.duration / 4))
        concurrency = max(1, self.o.concurrency // self.o.gen_procs)
        replies = await self.generators.all({"op": "storm", "concurrency": concurrency, "sources": self.o.sources})
        resume_s = max(r["seconds"] for r in replies)
        await publishing
        await asyncio.sleep(1.0)
        return {**self.row, "scenario": "storm", "rate": self.o.rate, "resume_s": resume_s,
                "resumed": sum(r["resumed"] for r in replies), "resume_failed": sum(r["failed"] for r in replies),
                "without_seq": sum(r["without_seq"] for r in replies)}  # fmt: skip

    async def check(self) -> dict[str, Any]:
        """Lost, duplicated and disordered messages over the probes (and tracking readers)."""
        assert self.publisher is not None and self.generators is not None
        acked = list(self.publisher.acked)
        total = Check()
        for probe in self.probes:
            total.add(probe.checker.check(acked))
        out: dict[str, Any] = {"probe_errors": [p.error for p in self.probes if p.error], "posts_acked": len(acked),
                               "post_errors": self.publisher.errors}  # fmt: skip
        if self.o.storm:
            replies = await self.generators.all({"op": "check", "acked": acked})
            for reply in replies:
                total.add(Check(reply["lost"], reply["duplicated"], reply["disordered"]))
            out["readers_with_loss"] = sum(r["readers_with_loss"] for r in replies)
        counts = await self.generators.counts()
        out["readers_open_at_end"] = counts["open"]
        out["close_codes"] = counts["codes"]
        return {"lost": total.lost, "duplicated": total.duplicated, "disordered": total.disordered, **out}

    async def close(self) -> None:
        for probe in self.probes:
            await probe.stop()
        if self.generators is not None:
            await self.generators.close()
        if self.publisher is not None:
            await self.publisher.drain(2.0)


def _pick(window: dict[str, Any]) -> dict[str, Any]:
    keys = ("deliveries_per_s", "bytes_per_frame", "p50_ms", "p99_ms", "max_ms", "server_cpu_pct", "gen_cpu_pct",
            "open", "frames", "seconds")  # fmt: skip
    return {k: window[k] for k in keys}


async def run_scenarios(target: Target, options: Options, scenarios: list[str], procs: int) -> list[dict[str, Any]]:
    """Connect once, then run each scenario in order (fixed, saturate, storm) and check for loss."""
    rows: list[dict[str, Any]] = []
    connector = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
        bench = Bench(target, options, http)
        try:
            await bench.setup()
            await bench.connect()
            print(f"  {bench.row['connected']} readers connected in {bench.row['connect_s']:.1f}s"
                  f" ({bench.row.get('kib_per_reader') or 0:.1f} KiB per reader)", flush=True)  # fmt: skip
            for scenario in scenarios:
                if scenario == "fixed":
                    row = await bench.fixed()
                elif scenario == "saturate":
                    row = await bench.saturate()
                else:
                    row = await bench.storm()
                row.update(await bench.check())
                row.update({"feed": options.feed, "procs": procs, "readers": options.readers})
                rows.append(row)
                print(table([row]), flush=True)
        finally:
            await bench.close()
    return rows


# --- command line ------------------------------------------------------------------------------------


def add_parser(subparsers: Any) -> None:
    """Add ``bench`` to the plenary command's subparsers."""
    parser = subparsers.add_parser("bench", help="load a live feed with N readers and measure delivery")
    _arguments(parser)
    parser.set_defaults(func=run)


def _arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group("server")
    where.add_argument("--url", help="a running server (loopback only); with --token (admin)")
    where.add_argument("--token", help="admin token of that server")
    where.add_argument("--server-pid", type=int, help="root process of that server, for RSS and CPU figures")
    where.add_argument("--processes", type=int, default=1, help="server processes when spawning (SO_REUSEPORT)")
    where.add_argument(
        "--pin-cpu",
        help="CPU list for the spawned server (taskset -c); the rest get the load (--matrix: the first CPU by default)",
    )
    load = parser.add_argument_group("load")
    load.add_argument("--readers", "-n", type=int, default=1000, help="reader connections (default 1000)")
    load.add_argument("--feed", choices=("json", "msgpack", "sse"), default="json")
    load.add_argument("--rate", "-r", type=float, default=10.0, help="posts per second (default 10)")
    load.add_argument("--duration", "-d", type=float, default=10.0, help="seconds of posting (default 10)")
    load.add_argument("--saturate", action="store_true", help="also raise the rate until p99 > 1 s or behind")
    load.add_argument("--resume-storm", action="store_true", help="all readers drop and resume with after")
    load.add_argument("--matrix", action="store_true", help="N = 1,000/5,000/10,000 x (R = 10, saturation)")
    load.add_argument("--probes", type=int, default=4, help="decoding readers measuring latency (default 4)")
    load.add_argument(
        "--gen-procs",
        type=int,
        default=0,
        help="reader processes (default: one per core left by --pin-cpu, else half the cores)",
    )
    load.add_argument("--pad", type=int, default=20, help="letters added to each post's text (~400-byte frames)")
    load.add_argument("--connect-concurrency", type=int, default=100, help="upgrades in flight (default 100)")
    load.add_argument("--step-seconds", type=float, default=3.0, help="length of one saturation step")
    load.add_argument("--warmup", type=float, default=2.0, help="seconds of posting before the fixed-rate window"
                      " (reported apart)")  # fmt: skip
    load.add_argument("--gen-wait", choices=("poll", "epoll"), default="poll",
                      help="how idle generators wait: poll every 1 ms (default) or sleep in epoll_wait, which on "
                      "loopback makes every send() on the server's core wake them")  # fmt: skip
    parser.add_argument("--json", type=Path, help="write the results here")


def _machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"cpus": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "kernel": platform.release()}  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Run the benchmark the arguments describe; print a table, write JSON; 0 unless it could not run."""
    if args.url and not args.token:
        print("plenary bench: --url needs --token (an admin token)", file=sys.stderr)
        return 2
    if args.url and urlsplit(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        print("plenary bench: loopback servers only", file=sys.stderr)
        return 2
    limit = raise_nofile()
    all_cpus = sorted(os.sched_getaffinity(0))
    if args.matrix and not args.pin_cpu and len(all_cpus) >= 2:
        args.pin_cpu = str(all_cpus[0])  # the standard matrix: one server core, the load on the others
    pin = _cpus(args.pin_cpu) if args.pin_cpu else None
    others = [c for c in all_cpus if c not in (pin or [])] or None
    if pin and others:
        os.sched_setaffinity(0, others)
    gen_procs = args.gen_procs or max(1, len(others or all_cpus) if pin else len(all_cpus) // 2 or 1)
    readers = MATRIX_READERS if args.matrix else (args.readers,)
    need = max(readers) + 200
    if limit < need:
        print(f"plenary bench: the open-file limit is {limit}; {need} needed", file=sys.stderr)
        return 2
    scenarios = ["storm"] if args.resume_storm else ["fixed", *(["saturate"] if args.saturate or args.matrix else [])]
    rows: list[dict[str, Any]] = []
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    for n in readers:
        options = Options(readers=n, feed=args.feed, rate=args.rate, duration=args.duration, probes=args.probes,
                          gen_procs=gen_procs, gen_cpus=others if pin else None, pad=args.pad,
                          concurrency=args.connect_concurrency, sources=max(1, n // 2000 + 1),
                          storm=args.resume_storm, step_seconds=args.step_seconds,
                          warmup=args.warmup, gen_poll=args.gen_wait == "poll")  # fmt: skip
        print(f"N={n} readers, feed {args.feed}, {gen_procs} generator process(es)"
              f"{f', server on CPU {args.pin_cpu}' if pin else ''}", flush=True)  # fmt: skip
        if args.url:
            target = Target(args.url.rstrip("/"), args.token, args.server_pid)
            rows += asyncio.run(run_scenarios(target, options, scenarios, args.processes))
        else:
            with spawned_server(args.processes, pin, others if pin else None) as target:
                rows += asyncio.run(run_scenarios(target, options, scenarios, args.processes))
    print()
    print(table(rows))
    if args.json:
        report = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": _machine(),
                  "command": sys.argv, "rows": rows}  # fmt: skip
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="plenary")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_parser(subparsers)
    args = parser.parse_args(["bench", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["add_parser", "main", "run"]
