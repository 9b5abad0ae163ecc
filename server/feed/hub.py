"""This process's fan-out: the channels it follows, joining and catch-up, dispatch and keep-alive.

The decisions are ``server.feed.core``'s; messages come from a ``Broker``; every write goes through the
``Writer``. See docs/live-delivery.md for the resume algorithm and why it leaves no gap and no duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator
from typing import Final

from aiohttp import web

from server.appkeys import HUB, SETTINGS, STORE
from server.errors import SeqExpired, StoreUnavailable
from server.feed.broker import Broker, RedisBroker
from server.feed.core import ORIGIN, Channel, Follower, Position
from server.feed.wire import GOING_AWAY_CODE, GOING_AWAY_REASON, SLOW_READER_CODE, Message, resync
from server.feed.writer import Reader, Writer

logger = logging.getLogger(__name__)

_TICK: Final = 1.0  # housekeeping period at most: idle channels, dead transports, one slot of keep-alives
_LINGER: Final = 2.0  # seconds an event with no local reader stays subscribed (reconnect churn)
_TICK_MIN: Final = 0.1  # housekeeping walks every reader: not more often than this, whatever keepalive says


class _Followed(Channel[Message]):
    """A channel and what the hub keeps beside it."""

    def __init__(self, recent_limit: int) -> None:
        super().__init__(recent_limit=recent_limit)
        self.ready = asyncio.Event()  # set after the first sync; stays set across reconnects
        self.idle_ticks = 0


class Hub:
    """Every followed event of this process, fed by one broker.

    Guarantees: each local reader gets the messages of its event in seq order, each once, with no gap from
    its ``after`` (or from when it joined) for as long as it stays connected; a broker reconnect is repaired by
    its backfill; a reader too slow to take them is cut, never buffered without bound.
    """

    def __init__(self, broker: Broker, *, buffer_messages: int = 256, buffer_bytes: int = 1 << 20,
                 keepalive_seconds: float = 20.0, ready_timeout: float = 5.0,
                 batch: int = 500, recent_messages: int = 1000, chunk_writes: int = 256, resume_max: int = 5000,
                 catch_up_seconds: float = 10.0) -> None:  # fmt: skip
        self.broker = broker
        self.writer = Writer(buffer_bytes=buffer_bytes, chunk_writes=chunk_writes)
        self.writer.bind(self.leave)
        self.recent_messages = recent_messages
        self.buffer_messages = buffer_messages
        self.keepalive_seconds = keepalive_seconds
        # Keep-alives are spread over the period: each reader has one slot, one slot is served per tick, so
        # 10,000 readers cost 500 pings (and pongs) a second instead of a burst of 10,000 every 20 s.
        self._slots = max(1, round(keepalive_seconds / _TICK))
        self._tick_seconds = max(_TICK_MIN, keepalive_seconds / self._slots)
        self._linger_ticks = math.ceil(_LINGER / self._tick_seconds)
        self._joined = 0
        self.ready_timeout = ready_timeout
        self.batch = batch
        self.resume_max = resume_max
        self.catch_up_seconds = catch_up_seconds
        self._channels: dict[str, _Followed] = {}
        self._tick_task: asyncio.Task[None] | None = None
        self.departures = 0  # readers who left, ever (server.heap decides from it when to collect everything)
        self.process_id = ""  # set by readers_ctx

    @property
    def reconnects(self) -> int:
        return self.broker.reconnects

    # --- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.broker.start(self)
        self._tick_task = asyncio.create_task(self._tick(), name="hub-tick")

    def shut_readers(self) -> None:
        """Close every feed connection with 1001 (server going away); clients resume with after."""
        for channel in list(self._channels.values()):
            for reader in [*channel.joining, *(r for g in channel.groups.values() for r in g)]:
                self.writer.cut(reader, GOING_AWAY_CODE, GOING_AWAY_REASON)  # type: ignore[arg-type]

    async def close(self) -> None:
        """Stop every task this hub started and its broker's; readers are released."""
        self.shut_readers()
        if self._tick_task is not None:
            self._tick_task.cancel()
            await asyncio.gather(self._tick_task, return_exceptions=True)
        await self.broker.close()
        self.writer.close()

    # --- the broker's sink ------------------------------------------------------------------------

    def position(self, event: str) -> Position | None:
        channel = self._channels.get(event)
        return None if channel is None else channel.position

    def set_syncing(self, event: str, syncing: bool) -> None:
        channel = self._channels.get(event)
        if channel is not None:
            channel.syncing = syncing
            if not syncing:
                channel.ready.set()

    def start_at(self, event: str, top: Position) -> None:
        channel = self._channels.get(event)
        if channel is not None:
            self._promote(channel, channel.start_at(top))

    def deliver(self, event: str, messages: list[Message]) -> None:
        """Dispatch (in seq order): the core keeps them for joining readers at once; the live ones get them as a
        write job (``Writer.queue``), whose snapshot of the live groups is taken in this same step."""
        channel = self._channels.get(event)
        if channel is None:
            return
        dispatch = channel.dispatch(messages, self.buffer_messages)
        if dispatch.fresh and channel.groups:
            self.writer.queue(channel, dispatch.fresh)
        if dispatch.promote:
            self._promote(channel, dispatch.promote)

    # --- followers --------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Local readers per followed event (joining or live, each once)."""
        return {event: channel.size() for event, channel in self._channels.items()}

    def local_count(self, event: str) -> int:
        channel = self._channels.get(event)
        return 0 if channel is None else channel.size()

    def subscribed(self) -> list[str]:
        """Events this process follows now (for tests and metrics)."""
        return sorted(self._channels)

    async def join(self, reader: Reader) -> None:
        """Register ``reader`` as joining: from now on every message of its event is kept for it.

        Returns once the event's channel has been subscribed and synced for the first time, so a message
        published after this returns reaches the reader; later joins return at once, also while the broker
        reconnects (its backfill then brings the kept lists up to date).

        Raises:
            StoreUnavailable: the channel was not ready within ``ready_timeout`` (the reader is removed).
        """
        channel = self._channels.get(reader.event)
        if channel is None:
            channel = self._channels[reader.event] = _Followed(self.recent_messages)
            await self.broker.follow(reader.event)
        channel.join(reader)
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

    async def catch_up(self, reader: Reader, after: Position | None) -> None:
        """Send ``reader`` what follows ``after`` (None: nothing before now), then what was kept, then go live.

        From memory when the channel's recent messages reach back that far; otherwise from the log, in
        batches. ``{"type": "resync"}`` (the client reloads) instead when ``after`` was trimmed, lies beyond the
        log's end, or is more than ``resume_max`` messages behind (then after what was sent so far). When the
        kept list overflows, its messages are sent and the log is read again from the last one. A catch-up
        still running after ``catch_up_seconds`` (log reads and waits for the peer to read included) cuts the
        reader (4008: reconnect with after). Raises ConnectionError when the peer goes away or is cut.
        """
        try:
            async with asyncio.timeout(self.catch_up_seconds):
                await self._catch_up(reader, after)
        except TimeoutError:
            logger.info("catch-up of a reader of %s at %s exceeded %.1fs; cutting", reader.event, reader.address,
                        self.catch_up_seconds)  # fmt: skip
            self.writer.cut(reader, SLOW_READER_CODE)
            raise ConnectionResetError("catch-up deadline") from None

    async def _catch_up(self, reader: Reader, after: Position | None) -> None:
        channel = self._channels.get(reader.event)
        resuming = after is not None
        if after is not None:
            reader.position = after
            if channel is not None:
                replay = channel.replay(reader, self.resume_max)
                if replay is not None:
                    self._go_live(channel, reader, b"".join(m.frame(reader.fmt) for m in replay))
                    return
                if await self._is_beyond_log(reader.event, channel, after):
                    resuming = False
                    await self._resync(reader)
        replayed = 0
        while True:
            if resuming:
                try:
                    replayed = await self._send_log(reader, replayed)
                except SeqExpired:
                    await self._resync(reader)
                resuming = False
            if reader.left:
                return
            if reader.gap:  # restart the kept list now; the log read next covers what was dropped
                for message in reader.restart_kept():
                    if reader.advance(message):
                        await self.writer.send(reader, message.frame(reader.fmt))
                resuming = reader.position > ORIGIN
                continue
            # no await from here on: the last kept message and the first live one cannot be reordered
            channel = self._channels.get(reader.event)
            if channel is None or reader not in channel.joining:
                return
            if channel.is_ahead(reader):
                # The log read ran ahead of pub/sub (the XRANGE reply overtook a PUBLISH, or the broker is
                # catching up after a drop): going live now would repeat those messages. Stay joining;
                # the dispatch that reaches the reader's position makes it live.
                reader.promote_at = reader.position
                return
            self._go_live(channel, reader)
            return

    async def _is_beyond_log(self, event: str, channel: _Followed, after: Position) -> bool:
        """Whether ``after`` lies after the log's last entry (no such seq was ever given out: the log was
        deleted, or the client made it up); the channel's position answers without a read when it is later."""
        if channel.position is not None and after <= channel.position:
            return False
        top = await self.broker.last_position(event)
        return top is None or after > top

    async def _resync(self, reader: Reader) -> None:
        await self.writer.send(reader, resync().frame(reader.fmt))
        reader.resynced()

    async def _send_log(self, reader: Reader, replayed: int) -> int:
        """Send the log after the reader's position; returns the messages replayed so far. Past ``resume_max``
        it sends a resync and stops (the reader then follows from its join, via the kept list)."""
        while True:
            messages = await self.broker.read_after(reader.event, reader.position, self.batch)
            replayed += len(messages)
            if replayed > self.resume_max:
                await self._resync(reader)
                return replayed
            for message in messages:
                if reader.advance(message):
                    await self.writer.send(reader, message.frame(reader.fmt))
            if len(messages) < self.batch:
                return replayed

    def _go_live(self, channel: _Followed, reader: Reader, first: bytes = b"") -> None:
        """Write ``first`` and the kept messages after the reader's position, and make it live, in one step."""
        kept = channel.go_live(reader, reader.group)
        frames = b"".join(m.frame(reader.fmt) for m in kept)
        self.writer.put(reader, first + frames if first else frames)

    def _promote(self, channel: _Followed, followers: list[Follower[Message]]) -> None:
        for follower in followers:
            reader: Reader = follower  # type: ignore[assignment]
            if reader.left:
                continue
            if reader.gap:  # its kept list overflowed while it waited: it resumes from the log instead
                self.writer.cut(reader, SLOW_READER_CODE)
            else:
                self._go_live(channel, reader)

    def leave(self, reader: Reader) -> None:
        """Forget ``reader`` (idempotent); the event is unfollowed shortly after its last reader leaves."""
        channel = self._channels.get(reader.event)
        if channel is not None:
            channel.leave(reader, reader.group)
        self.departures += reader.mark_left()

    # --- housekeeping -----------------------------------------------------------------------------

    async def _tick(self) -> None:
        """Task boundary: every tick (about a second), drop readers whose transport closed, unfollow idle
        events, and keep alive the readers of this tick's slot. Each reader's slot comes round once every
        ``keepalive_seconds``."""
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
            for group in list(channel.groups.values()):
                for follower in list(group):
                    self._keep_alive(follower, slot, live=True)  # type: ignore[arg-type]
            for follower in list(channel.joining):
                if follower.opened:  # type: ignore[attr-defined]
                    self._keep_alive(follower, slot, live=False)  # type: ignore[arg-type]
            if channel.size():
                channel.idle_ticks = 0
                continue
            channel.idle_ticks += 1
            if channel.idle_ticks < self._linger_ticks:
                continue
            del self._channels[event]
            await self.broker.unfollow(event)

    def _keep_alive(self, reader: Reader, slot: int, *, live: bool) -> None:
        """SSE comments and WebSocket pings (one shared frame). A live WebSocket reader that has not answered its
        previous ping is closed; a joining one is not asked (its pongs are read once it is live)."""
        transport = reader.transport
        if transport.is_closing():
            self.leave(reader)
        elif reader.keepalive_slot != slot:
            return
        elif live and not reader.fmt.is_sse and reader.awaiting_pong:
            logger.info("no pong from a reader of %s at %s; closing", reader.event, reader.address)
            self.leave(reader)
            transport.abort()
        else:
            self.writer.keepalive(reader)
            reader.awaiting_pong = live and not reader.fmt.is_sse


async def hub_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start this process's hub after the store; stop its tasks and close its connection at the end."""
    settings = app[SETTINGS]
    hub = Hub(
        RedisBroker(app[STORE], ping_seconds=settings.keepalive_seconds),
        buffer_messages=settings.reader_buffer_messages,
        buffer_bytes=settings.reader_buffer_bytes,
        keepalive_seconds=settings.keepalive_seconds,
        ready_timeout=max(2 * settings.redis_timeout, 2.0),
        recent_messages=settings.resume_cache_messages,
        chunk_writes=settings.dispatch_chunk_writes,
        resume_max=settings.resume_max_messages,
        catch_up_seconds=settings.catch_up_seconds,
    )
    app[HUB] = hub
    await hub.start()
    yield
    await hub.close()


async def hub_shutdown(app: web.Application) -> None:
    """on_shutdown: close feed connections (1001) so the server does not wait for long-lived handlers."""
    if HUB in app:
        app[HUB].shut_readers()
