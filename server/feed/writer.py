"""Writing frames to feed transports: one write path for live and catch-up, the slow-reader cut, keep-alive.

Live writes (``Writer.queue``) are jobs of pre-built frames written synchronously, ``chunk_writes`` transport
writes per event-loop step, so a post's handler and the pub/sub reader run between chunks of a fan-out to
thousands of readers. A job snapshots the live groups when it is made: a reader that goes live later got
those messages from its kept list or the recent list, and jobs run in order, each to its end before the next,
so every reader still gets its messages in seq order, each once. Catch-up writes go through the same
``Writer.put`` and then wait for the transport to drain (flow control, under the hub's catch-up deadline).

Slow readers: a reader whose transport write buffer passes ``buffer_bytes`` is cut (WebSocket close 4008
"slow reader: reconnect with after"; SSE: the response is closed and EventSource resumes with Last-Event-ID);
the transport is aborted ``CLOSE_GRACE`` seconds later if the peer never reads, so its memory is bounded by
the limit plus one frame. Measured with ``plenary bench`` (docs/performance.md): a pre-built frame written to
each aiohttp transport beats ``await ws.send_str()`` and ``websockets.broadcast()`` per reader by a third.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Hashable
from typing import Final, cast

from aiohttp.abc import AbstractStreamWriter

from server import metrics
from server.feed.core import Channel, Follower
from server.feed.wire import SLOW_READER_CODE, SLOW_READER_REASON, Format, Message, keepalive, ws_close_frame

logger = logging.getLogger(__name__)

CLOSE_GRACE: Final = 5.0  # seconds a cut reader may still read its close frame before its socket is aborted


class Reader(Follower[Message]):
    """One local follower of an event's feed, on one transport, in one format.

    *Joining* from ``Hub.join`` until its catch-up ends, then *live*. ``left`` is true, and ``done`` set, once
    it has left. Slots and a lazily made ``done`` event keep an idle reader small (thousands per process).
    """

    __slots__ = ("_done", "address", "awaiting_pong", "cut_slow", "event", "fmt", "keepalive_slot", "left",
                 "opened", "stream", "transport")  # fmt: skip

    def __init__(self, event: str, fmt: Format, transport: asyncio.Transport, stream: AbstractStreamWriter, *,
                 session: str | None, address: str) -> None:  # fmt: skip
        super().__init__(session)
        self.event = event
        self.fmt = fmt
        self.transport = transport
        self.stream = stream  # the response's writer: its drain() is the transport's flow control
        self.address = address
        self.left = False
        self.opened = False  # the 101 or the SSE response head was sent: frames may be written
        self._done: asyncio.Event | None = None
        self.cut_slow = False
        self.awaiting_pong = False  # WebSocket: a keep-alive ping was sent and no pong came back yet
        self.keepalive_slot = 0  # the housekeeping tick (of the keep-alive period) that pings this reader

    @property
    def group(self) -> tuple[Format, str | None]:
        """Live readers sharing frames: same format, same session filter."""
        return self.fmt, self.session

    @property
    def done(self) -> asyncio.Event:
        """Set once the reader has left (made on first use: most readers never wait on it)."""
        if self._done is None:
            self._done = asyncio.Event()
            if self.left:
                self._done.set()
        return self._done

    def mark_left(self) -> bool:
        """Mark the reader gone; True the first time."""
        first = not self.left
        self.left = True
        if self._done is not None:
            self._done.set()
        return first


class _Job:
    """Live writes of one dispatch: the messages, and the channel's live groups as they were when it was made.

    ``group`` and ``index`` say how far the writing got; ``frame`` is the current group's joined frames.
    """

    __slots__ = ("channel", "frame", "fresh", "group", "groups", "index", "version")

    def __init__(self, channel: Channel[Message], fresh: list[Message]) -> None:
        self.channel = channel
        self.fresh = list(fresh)
        self.version = channel.version
        self.groups: list[tuple[Hashable, list[Follower[Message]]]] = [
            (key, list(group)) for key, group in channel.groups.items()
        ]
        self.group = 0
        self.index = 0
        self.frame: bytes | None = None

    def build(self, key: Hashable) -> bytes:
        """The frames one group gets, joined (empty when none of the messages is for it)."""
        fmt, session = cast("tuple[Format, str | None]", key)  # Reader.group
        fresh = self.fresh
        if len(fresh) == 1:
            message = fresh[0]
            return message.frame(fmt) if message.matches(session) else b""
        return b"".join(m.frame(fmt) for m in fresh if m.matches(session))


class Writer:
    """Every write to feed transports in this process, and the cutting of readers that cannot keep up."""

    def __init__(self, *, buffer_bytes: int, chunk_writes: int) -> None:
        self.buffer_bytes = buffer_bytes
        self.chunk_writes = max(1, chunk_writes)
        self._jobs: deque[_Job] = deque()  # live writes still to do, in dispatch order
        self._drain_handle: asyncio.Handle | None = None
        self._aborts: dict[asyncio.Transport, asyncio.TimerHandle] = {}
        self._leave: Callable[[Reader], None] = lambda reader: None

    def bind(self, leave: Callable[[Reader], None]) -> None:
        """``leave(reader)`` is called for every reader this writer cuts (the hub forgets it)."""
        self._leave = leave

    # --- the one write path -----------------------------------------------------------------------

    def put(self, reader: Reader, frame: bytes) -> bool:
        """Write ``frame`` to the reader now; False (and the reader cut) when its transport is closing or holds
        more than ``buffer_bytes``."""
        transport = reader.transport
        if transport.is_closing():
            self.cut(reader, SLOW_READER_CODE)
            return False
        if frame:
            transport.write(frame)
        if transport.get_write_buffer_size() > self.buffer_bytes:
            self.cut(reader, SLOW_READER_CODE)
            return False
        return True

    async def send(self, reader: Reader, frame: bytes) -> None:
        """Catch-up: ``put``, then wait while the transport is above its high-water mark (the caller bounds the
        wait). Raises ConnectionResetError when the reader was cut or its peer went away."""
        if not self.put(reader, frame):
            raise ConnectionResetError("the reader was cut")
        await reader.stream.drain()

    def keepalive(self, reader: Reader) -> None:
        """One shared keep-alive frame: an SSE comment or a WebSocket ping."""
        self.put(reader, keepalive(reader.fmt))

    # --- live writes --------------------------------------------------------------------------------

    def queue(self, channel: Channel[Message], fresh: list[Message]) -> None:
        """Write ``fresh`` to the channel's live readers, as one job (joined to the last queued job of the same
        channel when it has not started and no reader went live since: same readers)."""
        jobs = self._jobs
        last = jobs[-1] if jobs else None
        if last is not None and last.channel is channel and last.group == 0 and last.frame is None \
                and last.version == channel.version:  # fmt: skip
            last.fresh.extend(fresh)
            return
        jobs.append(_Job(channel, fresh))
        if last is None:
            self._drain()  # the first chunk now: a lone message to a small event is written at once

    def _drain(self) -> None:
        """Write queued jobs, at most ``chunk_writes`` transport writes per event-loop step, then yield to the
        loop (call_soon). A reader that left since its job was made is skipped."""
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
                    key, readers = groups[job.group]
                    frame = job.frame
                    if frame is None:
                        frame = job.frame = job.build(key)
                    if not frame:
                        job.group += 1
                        job.index, job.frame = 0, None
                        continue
                    i = job.index
                    end = min(len(readers), i + budget)
                    for follower in readers[i:end]:
                        reader: Reader = follower  # type: ignore[assignment]
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
                    metrics.DELIVERIES.inc(end - i)
                    if end >= len(readers):
                        job.group += 1
                        job.index, job.frame = 0, None
                    else:
                        job.index = end
                if job.group >= len(groups):
                    metrics.observe_lag(jobs.popleft().fresh)
        finally:
            for reader in to_cut:
                self.cut(reader, SLOW_READER_CODE)
            if jobs and self._drain_handle is None:
                self._drain_handle = asyncio.get_running_loop().call_soon(self._drain)

    # --- closing ------------------------------------------------------------------------------------

    def cut(self, reader: Reader, code: int, reason: str = SLOW_READER_REASON) -> None:
        """Close the reader's connection with ``code`` (WebSocket close frame; SSE: the response just ends, and
        EventSource resumes with Last-Event-ID); a connection already closing just leaves (its peer went away,
        it was not slow)."""
        self._leave(reader)
        transport = reader.transport
        if transport.is_closing():
            return
        reader.cut_slow = code == SLOW_READER_CODE
        if reader.cut_slow:
            metrics.SLOW_CUTS.inc()
            logger.info("cutting slow reader of %s at %s (%d bytes buffered)", reader.event, reader.address,
                        transport.get_write_buffer_size())  # fmt: skip
        with contextlib.suppress(Exception):  # the transport may fail under us; nothing else to do
            if not reader.fmt.is_sse:
                transport.write(ws_close_frame(code, reason))
            transport.close()
        loop = asyncio.get_running_loop()
        self._aborts[transport] = loop.call_later(CLOSE_GRACE, self._abort, transport)

    def _abort(self, transport: asyncio.Transport) -> None:
        self._aborts.pop(transport, None)
        transport.abort()

    def close(self) -> None:
        """Drop queued writes and abort every transport still in its close grace."""
        if self._drain_handle is not None:
            self._drain_handle.cancel()
            self._drain_handle = None
        self._jobs.clear()
        for transport, handle in list(self._aborts.items()):
            handle.cancel()
            transport.abort()
        self._aborts.clear()
