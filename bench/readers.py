"""Cheap bench readers: hand-made WebSocket/SSE upgrades on raw sockets, read by generator processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import select
import socket
import struct
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Final

from bench.stats import MARK, SEQ, Check, Histogram, SeqChecker, arrival_latencies

MSGPACK_PROTOCOL: Final = "plenary.msgpack"
_LINGER_RST: Final = struct.pack("ii", 1, 0)  # close with RST: no TIME_WAIT left on the loopback ports
_MP_SEQ: Final = b"\xa3seq"
# The kernel's receive time of each read (recvmsg ancillary data). Linux's value on x86-64, arm64 and the other
# asm-generic ABIs; the socket module does not export it.
SO_TIMESTAMPNS: Final = 35
_TIMESPEC: Final = struct.Struct("@qq")  # struct timespec on 64-bit Linux
_ANCILLARY: Final = socket.CMSG_SPACE(_TIMESPEC.size)
_READ_SIZE: Final = 1 << 18
_EVENTS: Final = 4096  # sockets read per turn of the loop, at most


def raise_nofile(want: int = 1 << 20) -> int:
    """Raise this process's open-file limit as far as the hard limit allows; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if target > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def upgrade_request(feed: str, host: str, port: int, path: str) -> bytes:
    """The HTTP/1.1 request that opens a feed: a WebSocket upgrade, or a GET of the SSE stream."""
    if feed == "sse":
        return (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n").encode()
    protocol = f"Sec-WebSocket-Protocol: {MSGPACK_PROTOCOL}\r\n" if feed == "msgpack" else ""
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: cGxlbmFyeWJlbmNoa2V5IQ==\r\nSec-WebSocket-Version: 13\r\n{protocol}\r\n"
    ).encode()


def pong_frame(payload: bytes) -> bytes:
    """A masked (client) pong with an all-zero mask, so the payload goes as it is."""
    return struct.pack("!BB", 0x8A, 0x80 | len(payload)) + b"\0\0\0\0" + payload


class FeedReader:
    """One feed connection that counts frames and bytes without decoding them.

    WebSocket: frame headers are parsed to count data frames (payloads skipped unless ``track``), pings are
    answered, a close frame's code is kept. SSE: events are counted by their ``data:`` line. The arrival time
    of every data frame is kept (``arrivals``: the bench turns them into every reader's latency). With
    ``track``, each message's post number and seq feed a SeqChecker (used by the resume storm). The generator
    reads the socket itself (``RawTransport``) and hands over each read with its kernel receive time.
    """

    def __init__(self, stats: Stats, feed: str, request: bytes, *, track: bool) -> None:
        self.stats = stats
        self.feed = feed
        self.request = request
        self.checker: SeqChecker | None = SeqChecker() if track else None
        self.transport: RawTransport | None = None
        self.upgraded = False
        self.opened: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.close_code = 0
        self._head = b""
        self._buf = bytearray()  # an unfinished frame header (or whole frame when its payload is needed)
        self._need = 0  # bytes _buf must hold before parsing goes on
        self._skip = 0  # payload bytes of the current frame still to skip
        self._tail = b""  # SSE: the end of the last chunk, so a marker split in two is still found
        self.arrivals = array("q")  # when each data frame reached the reader's socket, in time.time_ns() terms

    def connection_made(self, transport: RawTransport) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self) -> None:
        if self.upgraded:
            self.stats.open -= 1
        if not self.opened.done():
            self.opened.set_result(False)

    def data_received(self, data: bytes, at: int = 0) -> None:
        """Parse one read; ``at``: when it reached the socket (0: now)."""
        at = at or time.time_ns()
        self.stats.bytes += len(data)
        if not self.upgraded:
            data = self._head + data
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self._head = data
                return
            status = data[: data.find(b"\r\n")]
            ok = b" 101 " in status if self.feed != "sse" else b" 200 " in status
            if not ok:
                self.opened.set_result(False)
                assert self.transport is not None
                self.transport.abort()
                return
            self.upgraded = True
            self.stats.open += 1
            self.opened.set_result(True)
            data = data[end + 4 :]
            self._head = b""
            if not data:
                return
        if self.feed == "sse":
            self._sse(data, at)
        else:
            self._ws(data, at)

    def _sse(self, data: bytes, at: int) -> None:
        joined = self._tail + data
        n = joined.count(b"\ndata: ")
        self.stats.frames += n
        if n:
            self.arrivals.extend([at] * n)
        if self.checker is not None and n:
            for match in MARK.finditer(joined):  # the message's seq comes before its text
                seq = SEQ.match(joined, max(0, joined.rfind(b'"seq"', 0, match.start())))
                if seq:
                    self.checker.observe(int(match[1]), f"{int(seq[1])}-{int(seq[2])}")
        self._tail = joined[-6:]  # shorter than "\ndata: ": a split marker is counted once, a whole one never twice

    def _ws(self, data: bytes, at: int) -> None:
        if not (self._skip or self._buf or self.checker) and len(data) >= 4:
            # The usual read at a steady rate, exactly one data frame (7- or 16-bit length): counted without
            # the general parse below, so the generator keeps up with the server (see read_by_polling).
            length = data[1] & 0x7F
            size = 2 + length if length < 126 else 4 + ((data[2] << 8) | data[3]) if length == 126 else -1
            if size == len(data) and data[0] & 0x0F in (1, 2):
                self.stats.frames += 1
                self.arrivals.append(at)
                return
        if self._skip:
            if len(data) <= self._skip:
                self._skip -= len(data)
                return
            data = data[self._skip :]
            self._skip = 0
        if self._buf:
            self._buf += data
            if len(self._buf) < self._need:  # wait for the whole header or frame: no quadratic re-parsing
                return
            data, self._buf = bytes(self._buf), bytearray()
        pos, end = 0, len(data)
        frames = 0
        while pos < end:
            b0, length, head = data[pos], 0, 2
            if end - pos >= 2:
                length = data[pos + 1] & 0x7F
                if length == 126:
                    head = 4
                elif length == 127:
                    head = 10
            if end - pos < head:
                self._buf, self._need = bytearray(data[pos:]), head
                break
            if head == 4:
                length = (data[pos + 2] << 8) | data[pos + 3]
            elif head == 10:
                length = int.from_bytes(data[pos + 2 : pos + 10], "big")
            opcode = b0 & 0x0F
            start = pos + head
            if opcode in (1, 2):
                frames += 1
                if self.checker is None:
                    if start + length > end:
                        self._skip = start + length - end
                        break
                    pos = start + length
                    continue
            if start + length > end:  # control frames, and tracked data frames, are read whole
                self._buf, self._need = bytearray(data[pos:]), head + length
                if opcode in (1, 2):
                    frames -= 1
                break
            payload = data[start : start + length]
            pos = start + length
            if opcode in (1, 2):
                self._message(payload)
            elif opcode == 0x9:
                assert self.transport is not None
                self.transport.write(pong_frame(payload))
            elif opcode == 0x8:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self.stats.codes[self.close_code] = self.stats.codes.get(self.close_code, 0) + 1
        self.stats.frames += frames
        if frames:
            self.arrivals.extend([at] * frames)

    def _message(self, payload: bytes) -> None:
        if self.checker is None:
            return
        match = MARK.search(payload)
        if match is None:
            return
        if self.feed == "msgpack":
            at = payload.find(_MP_SEQ)
            if at < 0:
                return
            size = payload[at + 4] & 0x1F  # fixstr header
            seq = payload[at + 5 : at + 5 + size].decode()
        else:
            found = SEQ.search(payload)
            if found is None:
                return
            seq = f"{int(found[1])}-{int(found[2])}"
        self.checker.observe(int(match[1]), seq)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()  # once closed, the socket's fileno() is -1: a second abort finds nothing


class RawTransport:
    """What a FeedReader needs of its connection, on a non-blocking socket that its Generator reads."""

    def __init__(self, generator: Generator, sock: socket.socket) -> None:
        self.generator = generator
        self.sock = sock

    def write(self, data: bytes) -> None:
        """Send a request or a pong: a few hundred bytes, which a socket's empty send buffer always takes."""
        with contextlib.suppress(OSError):
            self.sock.send(data)

    def abort(self) -> None:
        self.generator.drop(self.sock.fileno())


@dataclass
class Stats:
    """Counters shared by every reader of one generator process."""

    frames: int = 0
    bytes: int = 0
    open: int = 0
    codes: dict[int, int] = field(default_factory=dict)


class Generator:
    """The readers of one generator process, driven by commands from the bench's main process."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.stats = Stats()
        self.readers: list[FeedReader] = []
        # by fd: the socket's recvmsg_into and its reader's data_received (bound once), the socket, the reader
        self._conns: dict[int, tuple[Callable[..., Any], Callable[[bytes, int], None], socket.socket, FeedReader]] = {}
        self.poller = select.epoll()
        self._view = memoryview(bytearray(_READ_SIZE))  # one read buffer: a fresh 256 KiB per read costs an mmap
        self._buffer = [self._view]
        self.host = "127.0.0.1"
        self.port = 0
        self.feed = "json"
        self.path = ""

    async def _socket(self, source: str) -> socket.socket | None:
        """A connected non-blocking socket from ``source``, closing with RST (no TIME_WAIT left on loopback
        ports), with kernel receive times switched on."""
        loop = asyncio.get_running_loop()
        for attempt in range(5):
            sock: socket.socket | None = None
            try:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setblocking(False)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
                sock.bind((source, 0))
                await loop.sock_connect(sock, (self.host, self.port))
                return sock
            except OSError:
                if sock is not None:
                    sock.close()
                await asyncio.sleep(0.05 * (attempt + 1))
            except BaseException:
                if sock is not None:
                    sock.close()
                raise
        return None

    async def _open(self, path: str, source: str, track: bool, checker: SeqChecker | None = None) -> FeedReader | None:
        sock = await self._socket(source)
        if sock is None:
            return None
        reader = FeedReader(self.stats, self.feed, upgrade_request(self.feed, self.host, self.port, path), track=track)
        if checker is not None:
            reader.checker = checker
        self._conns[sock.fileno()] = (sock.recvmsg_into, reader.data_received, sock, reader)
        self.poller.register(sock.fileno(), select.EPOLLIN)
        reader.connection_made(RawTransport(self, sock))
        try:
            async with asyncio.timeout(30):
                ok = await reader.opened
        except TimeoutError:
            ok = False
        if not ok:
            reader.close()
            return None
        return reader

    def read(self) -> int:
        """Read the sockets with data waiting (at most ``_EVENTS`` of them: the loop must get back to its
        commands even when the readers are behind) and hand each read, with its receive time, to its reader.
        Returns how many sockets were ready."""
        if self.poller.closed:
            return 0
        conns, buffer, view, unpack = self._conns, self._buffer, self._view, _TIMESPEC.unpack_from
        events = self.poller.poll(0, _EVENTS)
        for fd, _ in events:
            entry = conns.get(fd)
            if entry is None:
                continue
            receive, deliver, _, _ = entry
            try:
                size, ancillary, _, _ = receive(buffer, _ANCILLARY)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                size = 0
            if not size:
                self.drop(fd)
                continue
            at = 0
            if ancillary:  # SO_TIMESTAMPNS is the only ancillary data asked for
                seconds, nanoseconds = unpack(ancillary[0][2])
                at = seconds * 1_000_000_000 + nanoseconds
            try:
                deliver(bytes(view[:size]), at)
            except Exception:  # a reader that cannot parse its stream is closed; the others go on
                self.drop(fd)
        return len(events)

    def drop(self, fd: int) -> None:
        """Close a reader's socket (RST) and tell the reader."""
        entry = self._conns.pop(fd, None)
        if entry is None:
            return
        _, _, sock, reader = entry
        with contextlib.suppress(OSError):
            self.poller.unregister(fd)
        sock.close()
        reader.connection_lost()

    async def connect(self, n: int, host: str, port: int, path: str, feed: str, track: bool, concurrency: int,
                      sources: int) -> dict[str, Any]:  # fmt: skip
        """Open ``n`` readers, at most ``concurrency`` upgrades in flight, each from one of ``sources`` loopback
        addresses (127.0.x.y: this spreads the client ports and the server's per-address limit)."""
        self.host, self.port, self.feed, self.path = host, port, feed, path
        started = time.monotonic()
        slots = asyncio.Semaphore(concurrency)
        failed = 0

        async def one(i: int) -> None:
            nonlocal failed
            source = _source(self.index, i, sources)
            async with slots:
                reader = await self._open(path, source, track)
            if reader is None:
                failed += 1
            else:
                self.readers.append(reader)

        await asyncio.gather(*(one(i) for i in range(n)))
        return {"connected": len(self.readers), "failed": failed, "seconds": time.monotonic() - started}

    def counts(self) -> dict[str, Any]:
        t = os.times()
        return {"frames": self.stats.frames, "bytes": self.stats.bytes, "open": self.stats.open,
                "codes": dict(self.stats.codes), "cpu": t.user + t.system,
                "time": time.monotonic()}  # fmt: skip

    async def storm(self, concurrency: int, sources: int) -> dict[str, Any]:
        """Drop every reader at once, then reconnect each with ``after`` = the last seq it received."""
        old = self.readers
        for reader in old:
            reader.close()
        started = time.monotonic()
        await asyncio.sleep(0)
        slots = asyncio.Semaphore(concurrency)
        self.readers = []
        failed = 0
        no_seq = 0

        async def one(i: int, previous: FeedReader) -> None:
            nonlocal failed, no_seq
            checker = previous.checker
            after = checker.last_seq if checker is not None else None
            if after is None:
                no_seq += 1
            sep = "&" if "?" in self.path else "?"
            path = self.path + (f"{sep}after={after}" if after else "")
            async with slots:
                reader = await self._open(path, _source(self.index, i, sources), True, checker)
            if reader is None:
                failed += 1
            else:
                self.readers.append(reader)

        await asyncio.gather(*(one(i, r) for i, r in enumerate(old)))
        return {"resumed": len(self.readers), "failed": failed, "without_seq": no_seq,
                "seconds": time.monotonic() - started}  # fmt: skip

    def check(self, acked: list[int]) -> dict[str, Any]:
        total = Check()
        with_loss = 0
        for reader in self.readers:
            if reader.checker is not None:
                found = reader.checker.check(acked)
                with_loss += found.lost > 0
                total.add(found)
        return {"lost": total.lost, "duplicated": total.duplicated, "disordered": total.disordered,
                "readers_with_loss": with_loss}  # fmt: skip

    def latency(self, posted: list[int], start: int, end: int) -> dict[str, Any]:
        """Every reader's latency for messages ``start``..``end - 1`` (see ``arrival_latencies``)."""
        histogram = Histogram()
        missing = sum(arrival_latencies(r.arrivals, posted, start, end, histogram) for r in self.readers)
        return {"buckets": histogram.buckets, "missing": missing}

    def close(self) -> None:
        """Close every socket this generator opened (RST), and its epoll set."""
        for fd in list(self._conns):
            self.drop(fd)
        self.readers = []
        self.poller.close()


def _source(index: int, i: int, sources: int) -> str:
    n = (index * 7919 + i) % max(1, sources)
    return f"127.0.{1 + n // 250}.{2 + n % 250}"


def read_by_polling(generator: Generator, nap: float = 0.001) -> None:
    """Read the generator's sockets from this event loop's own steps, never waiting in epoll_wait for them:
    at once again while some were ready, after a ``nap`` when none was.

    Why: on loopback, a send() to a process asleep in epoll_wait wakes that process from inside the sender's
    system call, on the sender's core (sock_def_readable -> try_to_wake_up: 15 % of the server's samples in
    `perf`). Readers on other machines cost the server nothing of the sort; a generator that is never asleep
    in epoll_wait costs it nothing either. It does not spin while idle (the store and the probes sharing its
    core keep their share); the arrival times are the kernel's, so the nap does not delay them. Reading
    without a nap while busy matters: a socket left unread for ~40 ms has its delayed ACK sent by a timer on
    the core that received the data, the server's.
    """
    loop = asyncio.get_running_loop()

    def turn() -> None:
        try:
            if not generator.read():
                time.sleep(nap)
        finally:
            if not generator.poller.closed:
                loop.call_soon(turn)

    loop.call_soon(turn)


async def _serve_commands(conn: Connection, index: int, poll: bool) -> None:
    generator = Generator(index)
    loop = asyncio.get_running_loop()
    if poll:
        read_by_polling(generator)
    else:
        loop.add_reader(generator.poller.fileno(), generator.read)
    while True:
        command: dict[str, Any] = await loop.run_in_executor(None, conn.recv)
        op = command.pop("op")
        reply: dict[str, Any]
        if op == "connect":
            reply = await generator.connect(**command)
        elif op == "counts":
            reply = generator.counts()
        elif op == "storm":
            reply = await generator.storm(**command)
        elif op == "check":
            reply = generator.check(command["acked"])
        elif op == "latency":
            reply = generator.latency(**command)
        elif op == "close":
            if not poll:
                loop.remove_reader(generator.poller.fileno())
            generator.close()
            await asyncio.sleep(0.1)
            conn.send({})
            return
        else:
            reply = {"error": f"unknown op {op}"}
        conn.send(reply)


def generator_main(conn: Connection, index: int, cpus: list[int] | None, poll: bool = True) -> None:
    """Entry point of one generator process (multiprocessing, spawn). It runs at nice 10: the readers stand
    for other machines, so where they share a core with the store, the publisher and the probes, those go
    first (the probes' and the publisher's timings are the measurement, the store is part of what is measured).
    """
    raise_nofile()
    if cpus:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, cpus)
    with contextlib.suppress(OSError):
        os.nice(10)
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(_serve_commands(conn, index, poll))
