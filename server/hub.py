"""Fan-out in this process: one pub/sub connection, followers per event, reconnect and backfill.

Frame writing (measured with `plenary bench`, see docs/performance.md): a message is decoded once and each
wire form (WebSocket JSON text frame, WebSocket msgpack binary frame, SSE event, SSE event inside an HTTP/1.1
chunk) is built at most once, on first use, complete with its WebSocket header or chunk header. The same
``bytes`` object is then handed to ``transport.write()`` of every live reader of that format, synchronously,
in the hub's pub/sub reader task: no per-reader task wakes up and nothing is encoded per reader. Profiling a
saturated run shows ~90% of the hub's time inside those ``write()`` calls (one send() per reader), so the
cost that is left is one system call per reader per dispatch. Hence batching: pub/sub messages of one
channel that have already arrived together (the hub fell behind) are dispatched as one batch, their frames
joined once per group and written with one call per reader (N = 5,000, one core: 105,000 -> 187,000
deliveries/s). A lone message is never delayed to wait for company. Live writes are queued as jobs and written
``chunk_writes`` per event-loop step (``Hub._drain``), so a post's handler and the pub/sub reader run between
chunks of a fan-out to thousands of readers instead of waiting for all of it (see ``Hub._dispatch`` for why
the resume guarantees still hold). WebSockets are served by aiohttp (the
app's server; one port, one middleware stack) with ``compress=False`` and ``autoping=False``: the hub's
housekeeping writes one shared ping frame to every live WebSocket reader every ``keepalive_seconds`` and
drops a reader that has not answered the previous one (aiohttp's per-connection heartbeat timers cost
~0.8 KiB per reader). aiohttp's own writes (pongs, close) are whole frames written synchronously, so they
never interleave inside ours. An earlier measurement (2,000 readers, 200 messages): ``await ws.send_str()``
per reader 69,000 deliveries/s, ``websockets.broadcast()`` 68,000/s (it still builds a frame per
connection), one pre-built frame written to each aiohttp transport 91,000/s.

Slow readers: a reader whose transport write buffer passes ``reader_buffer_bytes`` is cut (WebSocket close
4008 "slow reader: reconnect with after"; SSE: the response is closed and EventSource resumes with
Last-Event-ID); the transport is aborted ``CLOSE_GRACE`` seconds later if the peer never reads, so its memory
is bounded by the limit plus one frame.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import math
import random
import struct
from collections import deque
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Any, Final

from aiohttp import web

from server import codec
from server.appkeys import HUB, SETTINGS, STORE
from server.errors import SeqExpired, StoreUnavailable
from server.store import Entry, PubSub, Store

logger = logging.getLogger(__name__)

SLOW_READER_CODE: Final = 4008
SLOW_READER_REASON: Final = "slow reader: reconnect with after"
GOING_AWAY_CODE: Final = 1001
CLOSE_GRACE: Final = 5.0  # seconds a cut reader may still read its close frame before its socket is aborted
_TICK = 1.0  # housekeeping period at most: idle channels, dead transports, one slot of keep-alives
_LINGER = 2.0  # seconds an event with no local reader stays subscribed (reconnect churn)
_TICK_MIN = 0.1  # housekeeping walks every reader: not more often than this, whatever keepalive_seconds says
_BACKOFF_FIRST, _BACKOFF_MAX = 0.05, 5.0
_BATCH_MAX = 64  # messages dispatched together at most (one write per reader for all of them)

Key = tuple[int, int]


class Format(StrEnum):
    """A wire form of feed messages."""

    JSON = "json"  # WebSocket text frame
    MSGPACK = "msgpack"  # WebSocket binary frame
    SSE = "sse"  # SSE event (HTTP/1.0: raw body)
    SSE_CHUNKED = "sse-chunked"  # SSE event inside one HTTP/1.1 chunk


def ws_frame(opcode: int, payload: bytes) -> bytes:
    """A final, unmasked (server-to-client) WebSocket frame."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def ws_close_frame(code: int, reason: str) -> bytes:
    return ws_frame(0x8, struct.pack("!H", code) + reason.encode())


def sse_chunk(body: bytes) -> bytes:
    """``body`` as one HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(body), body)


KEEPALIVE_SSE: Final = b": keep-alive\n\n"
KEEPALIVE_SSE_CHUNK: Final = sse_chunk(KEEPALIVE_SSE)
KEEPALIVE_PING: Final = ws_frame(0x9, b"")


class Message:
    """One feed message, decoded once; each wire form is built at most once, on first use.

    ``key`` orders messages by seq; the resync message has no seq and is always delivered.
    """

    __slots__ = ("_bodies", "_frames", "data", "key", "seq", "session", "type")

    def __init__(self, kind: str, seq: str, data: dict[str, Any]) -> None:
        self.type = kind
        self.seq = seq
        self.data = data
        self.key: Key = codec.seq_key(seq) if seq else (0, 0)
        # the session a filtered reader matches on; None: every filtered reader gets it. Edits and deletes go
        # to every filtered reader: an edit may move an update out of the session, and only the client knows
        # what it shows (it drops an edit whose session is not its own, removing the update if shown).
        if kind == "session":
            self.session: str | None = str(data.get("id"))
        elif kind == "update":
            value = data.get("session")
            self.session = str(value) if value else ""
        else:
            self.session = None
        self._bodies: dict[Format, bytes] = {}
        self._frames: dict[Format, bytes] = {}

    @classmethod
    def from_entry(cls, entry: Entry) -> Message:
        return cls(entry.type, entry.seq, dict(entry.data))

    @classmethod
    def from_published(cls, raw: bytes) -> Message:
        """Decode what the append scripts PUBLISH: ``seq \\n type \\n msgpack``.

        Raises:
            ValueError: not in that form.
        """
        seq, kind, payload = raw.split(b"\n", 2)
        message = codec.entry_to_message(seq.decode(), kind.decode(), payload)
        return cls(message["type"], message["seq"], message["data"])

    @property
    def is_resync(self) -> bool:
        return self.type == "resync"

    def obj(self) -> dict[str, Any]:
        if self.is_resync:
            return {"type": "resync"}
        return codec.message(self.type, self.seq, self.data)

    def body(self, fmt: Format) -> bytes:
        """The payload: JSON text, msgpack, or the SSE event text (the same for both SSE forms)."""
        if fmt is Format.SSE_CHUNKED:
            fmt = Format.SSE
        body = self._bodies.get(fmt)
        if body is None:
            if fmt is Format.MSGPACK:
                body = codec.pack(self.obj())
            elif fmt is Format.JSON:
                body = codec.to_json(self.obj()).encode()
            else:
                head = b"id: %s\n" % self.seq.encode() if self.seq else b""
                body = b"%sevent: %s\ndata: %s\n\n" % (head, self.type.encode(), self.body(Format.JSON))
            self._bodies[fmt] = body
        return body

    def frame(self, fmt: Format) -> bytes:
        """The bytes to write to a transport as they are."""
        frame = self._frames.get(fmt)
        if frame is None:
            if fmt is Format.JSON:
                frame = ws_frame(0x1, self.body(fmt))
            elif fmt is Format.MSGPACK:
                frame = ws_frame(0x2, self.body(fmt))
            elif fmt is Format.SSE_CHUNKED:
                frame = sse_chunk(self.body(fmt))
            else:
                frame = self.body(fmt)
            self._frames[fmt] = frame
        return frame

    def matches(self, session: str | None) -> bool:
        """Whether a reader filtered on ``session`` (None: not filtered) gets this message (edits and deletes go
        to every filtered reader)."""
        return session is None or self.session is None or self.session == session


def resync() -> Message:
    return Message("resync", "", {})


class Reader:
    """One local follower of an event's feed, on one transport, in one format.

    A reader is *joining* from ``Hub.join`` until ``Hub.catch_up`` returns (the hub buffers messages for it),
    then *live* (the hub writes pre-built frames to its transport). ``left`` is true, and ``done`` set,
    once it has left. Slots and a lazily made ``done`` event keep an idle reader small (thousands per process).
    """

    __slots__ = ("_done", "address", "awaiting_pong", "cut_slow", "event", "fmt", "gap", "keepalive_slot",
                 "last_key", "last_seq", "left", "pending", "promote_at", "session", "transport")  # fmt: skip

    def __init__(self, event: str, fmt: Format, transport: asyncio.Transport, *, session: str | None,
                 address: str) -> None:  # fmt: skip
        self.event = event
        self.fmt = fmt
        self.transport = transport
        self.session = session
        self.address = address
        self.pending: list[Message] = []
        self.gap = False  # pending overflowed: what follows it must come from the log
        self.last_key: Key = (0, 0)  # last seq sent or filtered out
        self.last_seq: str | None = None
        self.promote_at: Key | None = None  # joining until the channel has dispatched up to this seq
        self.left = False
        self._done: asyncio.Event | None = None
        self.cut_slow = False
        self.awaiting_pong = False  # WebSocket: a keep-alive ping was sent and no pong came back yet
        self.keepalive_slot = 0  # the housekeeping tick (of the hub's keep-alive period) that pings this reader

    @property
    def done(self) -> asyncio.Event:
        """Set once the reader has left (made on first use: most readers never wait on it)."""
        if self._done is None:
            self._done = asyncio.Event()
            if self.left:
                self._done.set()
        return self._done

    def accepts(self, message: Message) -> bool:
        return message.matches(self.session)

    def buffer(self, message: Message, limit: int) -> None:
        if self.gap:
            return
        if len(self.pending) >= limit:
            self.gap = True
            return
        self.pending.append(message)

    async def send(self, message: Message) -> None:
        """Write one message with flow control (catch-up only; live messages go through the hub)."""
        raise NotImplementedError

    def cut(self, code: int, reason: str) -> None:
        """Close the connection at once (slow reader or shutdown); the peer may read what is buffered."""
        raise NotImplementedError


class _Channel:
    """The hub's state for one followed event."""

    def __init__(self, event: str, name: str) -> None:
        self.event = event
        self.name = name
        self.last_seq: str | None = None  # last seq dispatched (None: not yet known)
        self.last_key: Key = (0, 0)
        self.syncing = True  # pub/sub messages wait in pending while the log is being caught up
        self.pending: list[Message] = []
        self.pending_gap = False
        self.ready = asyncio.Event()  # set after the first sync; stays set across reconnects
        self.joining: set[Reader] = set()
        self.groups: dict[tuple[Format, str | None], set[Reader]] = {}
        self.sync_task: asyncio.Task[None] | None = None
        self.idle_ticks = 0
        # the last messages dispatched, in seq order and without a gap: resuming readers are served from here
        self.recent: list[Message] = []
        self.version = 0  # bumped whenever a reader joins a live group (a write job's snapshot is then stale)

    def remember(self, messages: list[Message], limit: int) -> None:
        """Keep dispatched messages for resuming readers; a resync (a gap) forgets the older ones."""
        if limit <= 0:
            return
        for message in messages:
            if message.is_resync:
                self.recent.clear()
            else:
                self.recent.append(message)
        if len(self.recent) > 2 * limit:  # trim in steps, not per message
            del self.recent[:-limit]

    def size(self) -> int:
        return len(self.joining) + sum(len(group) for group in self.groups.values())


class _Job:
    """Live writes of one dispatch: the messages, and the channel's live groups as they were when it was made.

    ``group`` and ``index`` say how far the writing got; ``frame`` is the current group's joined frames.
    """

    __slots__ = ("channel", "frame", "fresh", "group", "groups", "index", "version")

    def __init__(self, channel: _Channel, fresh: list[Message]) -> None:
        self.channel = channel
        self.fresh = list(fresh)
        self.version = channel.version
        self.groups = [(fmt, session, list(group)) for (fmt, session), group in channel.groups.items()]
        self.group = 0
        self.index = 0
        self.frame: bytes | None = None

    def build(self, fmt: Format, session: str | None) -> bytes:
        """The frames one group gets, joined (empty when none of the messages is for it)."""
        fresh = self.fresh
        if len(fresh) == 1:
            message = fresh[0]
            return message.frame(fmt) if message.matches(session) else b""
        return b"".join(m.frame(fmt) for m in fresh if m.matches(session))


class Hub:
    """This process's fan-out of every followed event, over one Redis pub/sub connection.

    Guarantees: each local reader gets the messages of its event in seq order, each once, with no gap from
    its ``after`` (or from when it joined) for as long as it stays connected; a pub/sub drop is repaired by a
    backfill from the last seq dispatched; a reader too slow to take them is cut, never buffered without bound.
    """

    def __init__(self, store: Store, *, buffer_messages: int = 256, buffer_bytes: int = 1 << 20,
                 keepalive_seconds: float = 20.0, ready_timeout: float = 5.0,
                 batch: int = 500, recent_messages: int = 1000, chunk_writes: int = 256) -> None:  # fmt: skip
        self.store = store
        self.chunk_writes = max(1, chunk_writes)
        self.recent_messages = recent_messages
        self.buffer_messages = buffer_messages
        self.buffer_bytes = buffer_bytes
        self.keepalive_seconds = keepalive_seconds
        # Keep-alives are spread over the period: each reader has one slot, one slot is served per tick, so
        # 10,000 readers cost 500 pings (and pongs) a second instead of a burst of 10,000 every 20 s.
        self._slots = max(1, round(keepalive_seconds / _TICK))
        self._tick_seconds = max(_TICK_MIN, keepalive_seconds / self._slots)
        self._linger_ticks = math.ceil(_LINGER / self._tick_seconds)
        self._joined = 0
        self.ready_timeout = ready_timeout
        self.batch = batch
        self._channels: dict[str, _Channel] = {}
        self._by_name: dict[str, _Channel] = {}
        self._conn: PubSub | None = None
        self._confirmations: dict[str, list[asyncio.Future[None]]] = {}
        self._aborts: dict[asyncio.Transport, asyncio.TimerHandle] = {}
        self._jobs: deque[_Job] = deque()  # live writes still to do, in dispatch order
        self._drain_handle: asyncio.Handle | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._tick_task: asyncio.Task[None] | None = None
        self.reconnects = 0
        self.departures = 0  # readers who left, ever (server.heap decides from it when to collect everything)
        self.process_id = ""  # set by readers_ctx

    # --- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        self._run_task = asyncio.create_task(self._run(), name="hub-pubsub")
        self._tick_task = asyncio.create_task(self._tick(), name="hub-tick")

    def shut_readers(self) -> None:
        """Close every feed connection with 1001 (server going away); clients resume with after."""
        for channel in list(self._channels.values()):
            for reader in [*channel.joining, *(r for g in channel.groups.values() for r in g)]:
                self._cut(reader, GOING_AWAY_CODE, "server restarting: reconnect with after")

    async def close(self) -> None:
        """Stop every task this hub started and close its connection; readers are released."""
        self.shut_readers()
        if self._drain_handle is not None:
            self._drain_handle.cancel()
            self._drain_handle = None
        self._jobs.clear()
        tasks = [t for t in (self._run_task, self._tick_task) if t is not None]
        tasks += [c.sync_task for c in self._channels.values() if c.sync_task is not None]
        for _attempt in range(10):
            # redis-py can swallow a cancellation that lands while it connects, and the task then waits
            # on a read until its keep-alive timeout: closing the connection and cancelling again ends it.
            if self._conn is not None:
                await self._conn.aclose()
            for task in tasks:
                task.cancel()
            _done, pending = await asyncio.wait(tasks, timeout=0.5) if tasks else (set(), set())
            tasks = list(pending)
            if not tasks:
                break
        for transport, handle in list(self._aborts.items()):
            handle.cancel()
            transport.abort()
        self._aborts.clear()
        if self._conn is not None:
            await self._conn.aclose()
            self._conn = None

    # --- followers --------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Local readers per followed event."""
        return {event: channel.size() for event, channel in self._channels.items()}

    def local_count(self, event: str) -> int:
        channel = self._channels.get(event)
        return 0 if channel is None else channel.size()

    async def join(self, reader: Reader) -> None:
        """Register ``reader`` as joining: from now on every message of its event is kept for it.

        Returns once the event's channel has been subscribed and synced for the first time, so a message
        published after this returns reaches the reader; later joins return at once, also while pub/sub
        reconnects (the backfill then brings the kept lists up to date).

        Raises:
            StoreUnavailable: the channel was not ready within ``ready_timeout`` (the reader is removed).
        """
        channel = self._channels.get(reader.event)
        if channel is None:
            channel = _Channel(reader.event, self.store.keys.channel(reader.event))
            self._channels[reader.event] = channel
            self._by_name[channel.name] = channel
            conn = self._conn
            if conn is not None:
                self._start_sync(channel, conn)
                with contextlib.suppress(StoreUnavailable):  # the reader loop notices and resubscribes all
                    await conn.subscribe(channel.name)
        channel.joining.add(reader)
        channel.idle_ticks = 0
        reader.keepalive_slot = self._joined % self._slots
        self._joined += 1
        if not channel.ready.is_set():
            try:
                async with asyncio.timeout(self.ready_timeout):
                    await channel.ready.wait()
            except TimeoutError:
                self.leave(reader)
                raise StoreUnavailable("the live feed is not available now; retry") from None

    async def catch_up(self, reader: Reader, after: str | None) -> None:
        """Send ``reader`` the log after ``after``, then what was kept for it, then make it live.

        Order: join (buffer) -> read the log in batches -> drop kept messages with seq <= the last one sent ->
        live. Every message kept since the join is either in the log read afterwards or in the kept list, so
        there is no gap, and the seq comparison leaves no duplicate. An ``after`` older than the retained
        log sends ``{"type": "resync"}`` first. When the kept list overflows, the rest is read from the log
        again. Raises ConnectionError when the peer goes away.
        """
        cursor = after
        if after is not None:
            reader.last_key, reader.last_seq = codec.seq_key(after), after
            if self._resume_from_memory(reader):
                return
        while True:
            if cursor is not None:
                try:
                    await self._send_log(reader, cursor)
                except SeqExpired:
                    await reader.send(resync())
                    reader.last_key, reader.last_seq = (0, 0), None
            if reader.left:
                return
            kept, gap = reader.pending, reader.gap
            if gap:  # restart the kept list now; the log read next covers what was dropped
                reader.pending, reader.gap = [], False
                for message in kept:
                    await self._send_next(reader, message)
                cursor = reader.last_seq
                continue
            # no await from here on: the last kept message and the first live one cannot be reordered
            channel = self._channels.get(reader.event)
            if channel is None or reader not in channel.joining:
                return
            if reader.last_key > channel.last_key:
                # The log read ran ahead of pub/sub (the XRANGE reply overtook a PUBLISH, or pub/sub is
                # catching up after a drop): going live now would repeat those messages. Stay joining;
                # _dispatch makes the reader live once the channel has dispatched up to its last seq.
                reader.promote_at = reader.last_key
                return
            self._go_live(channel, reader)
            return

    def _resume_from_memory(self, reader: Reader) -> bool:
        """Send what follows the reader's ``after`` from the channel's recent messages and make it live, in one
        event-loop step; False (nothing sent) when they do not reach back that far, or the channel is syncing.

        Every message the channel dispatched after its oldest recent one is in ``recent`` (a resync clears
        it), so when that oldest one is not after ``after``, ``recent`` holds every message after ``after``
        dispatched so far, and the kept list what came since the join: no log read is needed. The frames are
        the ones live readers got (built once), joined and written with one call: a storm of resuming readers
        costs one write each instead of a log read and an encoding per message per reader.
        """
        channel = self._channels.get(reader.event)
        if channel is None or channel.syncing or reader not in channel.joining:
            return False
        recent = channel.recent
        if not recent or recent[0].key > reader.last_key or reader.last_key > channel.last_key:
            return False
        start = bisect.bisect_right(recent, reader.last_key, key=lambda m: m.key)
        frames = [m.frame(reader.fmt) for m in recent[start:] if reader.accepts(m)]
        if start < len(recent):
            reader.last_key, reader.last_seq = recent[-1].key, recent[-1].seq
        if frames:
            reader.transport.write(b"".join(frames))
        self._go_live(channel, reader)
        return True

    def _go_live(self, channel: _Channel, reader: Reader) -> None:
        """Send the kept messages after the reader's last seq and make it live, in one event-loop step."""
        kept, reader.pending, reader.promote_at = reader.pending, [], None
        transport = reader.transport
        for message in kept:
            if message.is_resync or message.key > reader.last_key:
                if not message.is_resync:
                    reader.last_key, reader.last_seq = message.key, message.seq
                if reader.accepts(message):
                    transport.write(message.frame(reader.fmt))
        channel.joining.discard(reader)
        channel.groups.setdefault((reader.fmt, reader.session), set()).add(reader)
        channel.version += 1
        if transport.is_closing() or transport.get_write_buffer_size() > self.buffer_bytes:
            self._cut(reader, SLOW_READER_CODE, SLOW_READER_REASON)

    def _promote(self, channel: _Channel, readers: list[Reader]) -> None:
        for reader in readers:
            if reader.left:
                continue
            if reader.gap:  # its kept list overflowed while it waited: it resumes from the log instead
                self._cut(reader, SLOW_READER_CODE, SLOW_READER_REASON)
            else:
                self._go_live(channel, reader)

    def _promotable(self, channel: _Channel) -> list[Reader]:
        return [r for r in channel.joining if r.promote_at is not None and r.promote_at <= channel.last_key]

    async def _send_log(self, reader: Reader, cursor: str) -> None:
        while True:
            entries = await self.store.read_after(reader.event, cursor, limit=self.batch)
            for entry in entries:
                await self._send_next(reader, Message.from_entry(entry))
            if len(entries) < self.batch:
                return
            cursor = entries[-1].seq

    async def _send_next(self, reader: Reader, message: Message) -> None:
        """Send ``message`` unless the reader already has it (by seq); a resync always goes."""
        if message.is_resync:
            await reader.send(message)
        elif message.key > reader.last_key:
            reader.last_key, reader.last_seq = message.key, message.seq
            if reader.accepts(message):
                await reader.send(message)

    def leave(self, reader: Reader) -> None:
        """Forget ``reader`` (idempotent); the event is unsubscribed shortly after its last reader leaves."""
        channel = self._channels.get(reader.event)
        if channel is not None:
            channel.joining.discard(reader)
            group = channel.groups.get((reader.fmt, reader.session))
            if group is not None:
                group.discard(reader)
                if not group:
                    del channel.groups[(reader.fmt, reader.session)]
        self.departures += not reader.left
        reader.left = True
        if reader._done is not None:
            reader._done.set()

    def _cut(self, reader: Reader, code: int, reason: str) -> None:
        """Close the reader's connection with ``code``; a connection already closing just leaves (it was not
        slow: its peer went away)."""
        self.leave(reader)
        transport = reader.transport
        if transport.is_closing():
            return
        reader.cut_slow = code == SLOW_READER_CODE
        if reader.cut_slow:
            logger.info("cutting slow reader of %s at %s (%d bytes buffered)", reader.event, reader.address,
                        transport.get_write_buffer_size())  # fmt: skip
        with contextlib.suppress(Exception):  # the transport may fail under us; nothing else to do
            reader.cut(code, reason)
            transport.close()
        loop = asyncio.get_running_loop()
        self._aborts[transport] = loop.call_later(CLOSE_GRACE, self._abort, transport)

    def _abort(self, transport: asyncio.Transport) -> None:
        self._aborts.pop(transport, None)
        transport.abort()

    # --- dispatch ---------------------------------------------------------------------------------

    def _dispatch(self, channel: _Channel, messages: list[Message]) -> None:
        """Deliver messages (in seq order) to every reader of the channel: kept for joining readers at once,
        queued as a write job for the live ones (see ``_drain``). A job costs one ``transport.write()`` per
        live reader: its frames joined once per group.

        Everything but the live writes happens here, in this step: the channel's last seq, its recent list and
        the joining readers' kept lists include these messages from now on, so a reader that goes live later
        (catch-up, resume from memory, promotion) gets them from there and is not in this job's snapshot of
        the live groups; a reader in the snapshot gets them from the job. Jobs run in order, each to the end
        before the next starts, so every reader still gets its messages in seq order, each once.
        """
        fresh: list[Message] = []
        for message in messages:
            if not message.is_resync:
                if message.key <= channel.last_key:
                    continue
                channel.last_key, channel.last_seq = message.key, message.seq
            fresh.append(message)
        if not fresh:
            return
        channel.remember(fresh, self.recent_messages)
        promote: list[Reader] = []
        if channel.joining:
            limit = self.buffer_messages
            for reader in channel.joining:
                for message in fresh:
                    reader.buffer(message, limit)
                if reader.promote_at is not None and reader.promote_at <= channel.last_key:
                    promote.append(reader)
        if channel.groups:
            jobs = self._jobs
            last = jobs[-1] if jobs else None
            if last is not None and last.channel is channel and last.group == 0 and last.frame is None \
                    and last.version == channel.version:  # fmt: skip
                last.fresh.extend(fresh)  # not started and no reader went live since: same readers
            else:
                jobs.append(_Job(channel, fresh))
                if last is None:
                    self._drain()  # the first chunk now: a lone message to a small event is written at once
        if promote:
            self._promote(channel, promote)

    def _drain(self) -> None:
        """Write queued jobs, at most ``chunk_writes`` transport writes per event-loop step; then yield to the
        loop (call_soon) so HTTP handlers (posts) and the pub/sub reader run between chunks of a large fan-out.
        A reader that left since its job was made is skipped."""
        self._drain_handle = None
        jobs = self._jobs
        budget = self.chunk_writes
        limit = self.buffer_bytes
        to_cut: list[Reader] = []  # slow, or already closing
        try:
            while jobs and budget > 0:
                job = jobs[0]
                groups = job.groups
                while job.group < len(groups) and budget > 0:
                    fmt, session, readers = groups[job.group]
                    frame = job.frame
                    if frame is None:
                        frame = job.frame = job.build(fmt, session)
                    if not frame:
                        job.group += 1
                        job.index, job.frame = 0, None
                        continue
                    i = job.index
                    end = min(len(readers), i + budget)
                    for reader in readers[i:end]:
                        if reader.left:
                            continue
                        transport = reader.transport
                        if transport.is_closing():
                            to_cut.append(reader)
                            continue
                        transport.write(frame)
                        if transport.get_write_buffer_size() > limit:
                            to_cut.append(reader)
                    budget -= end - i
                    if end >= len(readers):
                        job.group += 1
                        job.index, job.frame = 0, None
                    else:
                        job.index = end
                if job.group >= len(groups):
                    jobs.popleft()
        finally:
            for reader in to_cut:
                self._cut(reader, SLOW_READER_CODE, SLOW_READER_REASON)
            if jobs and self._drain_handle is None:
                self._drain_handle = asyncio.get_running_loop().call_soon(self._drain)

    # --- the pub/sub connection -------------------------------------------------------------------

    def _start_sync(self, channel: _Channel, conn: PubSub) -> None:
        """Expect the channel's subscribe confirmation on ``conn``, then catch its log up (a task)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirmations.setdefault(channel.name, []).append(future)
        channel.syncing = True
        if channel.sync_task is not None:
            channel.sync_task.cancel()
        channel.sync_task = asyncio.create_task(self._sync(channel, conn, future), name=f"hub-sync-{channel.event}")

    async def _sync(self, channel: _Channel, conn: PubSub, confirmed: asyncio.Future[None]) -> None:
        """Task boundary: after the subscription is confirmed, dispatch what the log holds after the last
        dispatched seq (or learn the log's end the first time), then what pub/sub delivered meanwhile."""
        try:
            await confirmed
            while True:
                await self._sync_log(channel)
                kept, gap = channel.pending, channel.pending_gap
                channel.pending, channel.pending_gap = [], False
                self._dispatch(channel, kept)
                if not gap:
                    break
            channel.syncing = False
            channel.ready.set()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("catching up %s after subscribing failed; reconnecting", channel.event, exc_info=True)
            await conn.aclose()

    async def _sync_log(self, channel: _Channel) -> None:
        if channel.last_seq is None:
            await self._from_log_end(channel)
            return
        cursor = channel.last_seq
        try:
            while True:
                entries = await self.store.read_after(channel.event, cursor, limit=self.batch)
                self._dispatch(channel, [Message.from_entry(entry) for entry in entries])
                if len(entries) < self.batch:
                    return
                cursor = entries[-1].seq
        except SeqExpired:
            logger.warning("messages of %s were trimmed while pub/sub was down; readers resync", channel.event)
            self._dispatch(channel, [resync()])
            await self._from_log_end(channel)

    async def _from_log_end(self, channel: _Channel) -> None:
        """Go on from the log's last seq (first sync, or after a trim): nothing before it is dispatched."""
        top = await self.store.last_seq(channel.event)
        channel.last_seq = top or "0-0"
        channel.last_key = max(channel.last_key, codec.seq_key(channel.last_seq))
        self._promote(channel, self._promotable(channel))

    async def _run(self) -> None:
        """Task boundary: keep one pub/sub connection, resubscribing and backfilling after every loss."""
        backoff = _BACKOFF_FIRST
        while True:
            conn: PubSub | None = None
            try:
                conn = await self.store.open_pubsub()
                self._conn = conn
                self._confirmations.clear()
                names = []
                for channel in self._channels.values():
                    self._start_sync(channel, conn)
                    names.append(channel.name)
                if names:
                    await conn.subscribe(*names)
                logger.info("hub: pub/sub connected, %d events followed", len(names))
                backoff = _BACKOFF_FIRST
                await self._read(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("hub: pub/sub connection lost (%s); reconnecting in %.2fs", exc, backoff)
            finally:
                self._conn = None
                for channel in self._channels.values():
                    channel.syncing = True  # until resubscribed and caught up
                    if channel.sync_task is not None:
                        channel.sync_task.cancel()
                for futures in self._confirmations.values():
                    for future in futures:
                        future.cancel()
                self._confirmations.clear()
                if conn is not None:
                    await conn.aclose()
            self.reconnects += 1
            await asyncio.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, _BACKOFF_MAX)

    async def _read(self, conn: PubSub) -> None:
        """Read replies. Messages of one channel that are already here together are dispatched as one batch
        (when the hub falls behind, each reader gets one write for several messages instead of one each);
        any other reply first flushes the batch, so order is kept."""
        waiting_pong = False
        batch: list[Message] = []
        batch_channel: _Channel | None = None
        while True:
            reply = await conn.read(0 if batch else self.keepalive_seconds)  # 0: only what has arrived
            channel = self._by_name.get(reply.channel) if reply is not None and reply.kind == "message" else None
            if batch_channel is not None and (channel is not batch_channel or batch_channel.syncing):
                self._dispatch(batch_channel, batch)
                batch, batch_channel = [], None
                if reply is None:
                    continue
            if reply is None:
                if waiting_pong:
                    raise StoreUnavailable("no answer to PING on the pub/sub connection")
                await conn.ping()
                waiting_pong = True
                continue
            waiting_pong = False
            if reply.kind == "message":
                if channel is None:
                    continue
                try:
                    message = Message.from_published(reply.data)
                except ValueError:
                    logger.warning("hub: undecodable message on %s", reply.channel)
                    continue
                if channel.syncing:
                    if len(channel.pending) >= self.batch * 20:
                        channel.pending_gap = True
                    elif not channel.pending_gap:
                        channel.pending.append(message)
                    continue
                batch.append(message)
                batch_channel = channel
                if len(batch) >= _BATCH_MAX:
                    self._dispatch(channel, batch)
                    batch, batch_channel = [], None
            elif reply.kind == "subscribe":
                futures = self._confirmations.get(reply.channel)
                if futures:
                    future = futures.pop(0)
                    if not future.done():
                        future.set_result(None)

    # --- housekeeping -----------------------------------------------------------------------------

    async def _tick(self) -> None:
        """Task boundary: every tick (about a second), drop readers whose transport closed, unsubscribe idle
        events, and keep alive the readers of this tick's slot: SSE comments, WebSocket pings (one shared
        frame; a live WebSocket reader that has not answered its previous ping by then is closed). Each
        reader's slot comes round once every ``keepalive_seconds``."""
        ticks = 0
        while True:
            await asyncio.sleep(self._tick_seconds)
            try:
                await self._housekeep(ticks % self._slots)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("hub housekeeping failed")
            ticks += 1

    async def _housekeep(self, slot: int) -> None:
        for event, channel in list(self._channels.items()):
            for (fmt, _session), group in list(channel.groups.items()):
                for reader in list(group):
                    transport = reader.transport
                    if transport.is_closing():
                        self.leave(reader)
                    elif reader.keepalive_slot != slot:
                        continue
                    elif fmt in (Format.SSE, Format.SSE_CHUNKED):
                        transport.write(KEEPALIVE_SSE_CHUNK if fmt is Format.SSE_CHUNKED else KEEPALIVE_SSE)
                    elif reader.awaiting_pong:  # no pong for a whole keep-alive period: the peer is gone
                        logger.info("no pong from a reader of %s at %s; closing", reader.event, reader.address)
                        self.leave(reader)
                        transport.abort()
                    else:
                        transport.write(KEEPALIVE_PING)
                        reader.awaiting_pong = True
            if channel.size():
                channel.idle_ticks = 0
                continue
            channel.idle_ticks += 1
            if channel.idle_ticks < self._linger_ticks:
                continue
            del self._channels[event]
            del self._by_name[channel.name]
            if channel.sync_task is not None:
                channel.sync_task.cancel()
            conn = self._conn
            if conn is not None:
                with contextlib.suppress(StoreUnavailable):
                    await conn.unsubscribe(channel.name)

    def subscribed(self) -> list[str]:
        """Events this process follows now (for tests and metrics)."""
        return sorted(self._channels)


async def hub_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start this process's hub after the store; stop its tasks and close its connection at the end."""
    settings = app[SETTINGS]
    hub = Hub(
        app[STORE],
        buffer_messages=settings.reader_buffer_messages,
        buffer_bytes=settings.reader_buffer_bytes,
        keepalive_seconds=settings.keepalive_seconds,
        ready_timeout=max(2 * settings.redis_timeout, 2.0),
        recent_messages=settings.resume_cache_messages,
        chunk_writes=settings.dispatch_chunk_writes,
    )
    app[HUB] = hub
    await hub.start()
    yield
    await hub.close()


async def hub_shutdown(app: web.Application) -> None:
    """on_shutdown: close feed connections (1001) so the server does not wait for long-lived handlers."""
    if HUB in app:
        app[HUB].shut_readers()
