"""Where messages come from: the Broker protocol, RedisBroker (a pub/sub connection per shard, reconnect, backfill) and
MemoryBroker (an in-process log for tests).

A broker delivers each followed event's messages to its ``Sink`` (the hub) in seq order, with no gap: after
(re)subscribing an event it first dispatches the log after the sink's position for it, then what pub/sub
delivered meanwhile (the sink drops what it already has). The first subscription of an event instead starts
at the log's end. A trim that outran an outage becomes a resync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from server.backoff import Backoff
from server.errors import SeqExpired, StoreUnavailable
from server.feed.core import ORIGIN, Position
from server.feed.wire import Message, resync
from server.store import PubSub, Store

logger = logging.getLogger(__name__)

_BACKOFF = Backoff(base=0.05, cap=5.0)
_BATCH_MAX = 64  # pub/sub messages dispatched together at most (one write per reader for all of them)


class Sink(Protocol):
    """What a broker feeds: the hub."""

    def position(self, event: str) -> Position | None:
        """The last position dispatched for ``event`` (None: never synced)."""

    def deliver(self, event: str, messages: list[Message]) -> None:
        """Messages of ``event`` in seq order (may repeat ones already dispatched)."""

    def start_at(self, event: str, top: Position) -> None:
        """``event``'s log ends at ``top``: go on from there."""

    def set_syncing(self, event: str, syncing: bool) -> None:
        """``event`` is (not) being caught up with its log: no resume from memory meanwhile."""


class Broker(Protocol):
    """Pub/sub and history of every event's log, for one process's hub."""

    reconnects: int

    async def start(self, sink: Sink) -> None: ...

    async def close(self) -> None: ...

    async def follow(self, event: str) -> None:
        """Subscribe ``event``; its messages reach the sink once it is synced."""

    async def unfollow(self, event: str) -> None: ...

    async def read_after(self, event: str, after: Position, limit: int) -> list[Message]:
        """Up to ``limit`` messages after ``after``. Raises SeqExpired when ``after`` was trimmed."""

    async def last_position(self, event: str) -> Position | None:
        """The position of the log's last entry (None: empty log)."""


class _Subscription:
    """One followed event on the pub/sub connection: pub/sub messages wait here while its log is caught up."""

    __slots__ = ("event", "gap", "name", "pending", "syncing", "task")

    def __init__(self, event: str, name: str) -> None:
        self.event = event
        self.name = name
        self.syncing = True
        self.pending: list[Message] = []
        self.gap = False  # pending overflowed: read the log again
        self.task: asyncio.Task[None] | None = None


class _Shard:
    """One pub/sub connection and the subscriptions it carries: the only one on a single server, one per
    primary followed on a cluster (sharded channels are served by the primary of their slot)."""

    __slots__ = ("confirmations", "conn", "name", "subs", "task")

    def __init__(self, name: str) -> None:
        self.name = name  # the primary's host:port on a cluster, "" on one server
        self.subs: dict[str, _Subscription] = {}  # by channel name
        self.conn: PubSub | None = None
        self.confirmations: dict[str, list[asyncio.Future[None]]] = {}
        self.task: asyncio.Task[None] | None = None


class RedisBroker:
    """One dedicated Redis pub/sub connection per shard for every event this process follows (one shard on a
    single server; on a cluster, one per primary serving a followed event's slot, SSUBSCRIBE per channel).

    When a connection fails (or a PING gets no answer within ``ping_seconds``, or on a cluster the server ends
    a followed channel's subscription because its slot moved) it reconnects with exponential backoff and
    jitter, resubscribes that shard's events (on a cluster, each on the shard now serving it) and backfills
    each from the sink's position.
    """

    def __init__(self, store: Store, *, batch: int = 500, ping_seconds: float = 20.0) -> None:
        self.store = store
        self.batch = batch
        self.ping_seconds = ping_seconds
        self.reconnects = 0
        self._sink: Sink | None = None
        self._subs: dict[str, _Subscription] = {}  # by event
        self._shards: dict[str, _Shard] = {}  # by node name
        self._shard_of: dict[str, _Shard] = {}  # by event

    @property
    def sink(self) -> Sink:
        assert self._sink is not None, "start() first"
        return self._sink

    async def start(self, sink: Sink) -> None:
        self._sink = sink
        if not self.store.sharded:
            self._open_shard("")

    def _open_shard(self, name: str) -> _Shard:
        shard = self._shards[name] = _Shard(name)
        shard.task = asyncio.create_task(self._run(shard), name=f"feed-pubsub{'-' if name else ''}{name}")
        return shard

    async def close(self) -> None:
        """Stop every task and close the connections."""
        shards = list(self._shards.values())
        tasks = [t for t in (*(s.task for s in shards), *(s.task for s in self._subs.values())) if t is not None]
        for _attempt in range(10):
            # redis-py can swallow a cancellation that lands while it connects, and the task then waits
            # on a read until its keep-alive timeout: closing the connection and cancelling again ends it.
            for shard in shards:
                if shard.conn is not None:
                    await shard.conn.aclose()
            for task in tasks:
                task.cancel()
            _done, pending = await asyncio.wait(tasks, timeout=0.5) if tasks else (set(), set())
            tasks = list(pending)
            if not tasks:
                break
        for shard in shards:
            if shard.conn is not None:
                await shard.conn.aclose()
                shard.conn = None

    async def follow(self, event: str) -> None:
        if event in self._subs:
            return
        sub = _Subscription(event, self.store.keys.channel(event))
        self._subs[event] = sub
        if self.store.sharded:
            try:
                name = await self.store.shard_name(sub.name)
            except StoreUnavailable:
                name = "?"  # no node answered: that shard's loop places it once one does
            if self._subs.get(event) is not sub:  # unfollowed meanwhile
                return
        else:
            name = ""
        await self._place(sub, name)

    async def _place(self, sub: _Subscription, name: str) -> None:
        """Carry ``sub`` on shard ``name``'s connection (opened when it is the first there)."""
        shard = self._shards.get(name) or self._open_shard(name)
        shard.subs[sub.name] = sub
        self._shard_of[sub.event] = shard
        conn = shard.conn
        if conn is not None:
            self._start_sync(sub, shard, conn)
            with contextlib.suppress(StoreUnavailable):  # the reader loop notices and resubscribes all
                await conn.subscribe(sub.name)

    async def unfollow(self, event: str) -> None:
        sub = self._subs.pop(event, None)
        if sub is None:
            return
        shard = self._shard_of.pop(event)
        del shard.subs[sub.name]
        if sub.task is not None:
            sub.task.cancel()
        conn = shard.conn
        if conn is not None:
            with contextlib.suppress(StoreUnavailable):
                await conn.unsubscribe(sub.name)

    async def read_after(self, event: str, after: Position, limit: int) -> list[Message]:
        entries = await self.store.read_after(event, after.seq, limit=limit)
        return [Message.from_entry(entry) for entry in entries]

    async def last_position(self, event: str) -> Position | None:
        top = await self.store.last_seq(event)
        return None if top is None else Position.of(top)

    # --- syncing one subscription -----------------------------------------------------------------

    def _start_sync(self, sub: _Subscription, shard: _Shard, conn: PubSub) -> None:
        """Expect the subscription's confirmation on ``conn``, then catch its log up (a task)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        shard.confirmations.setdefault(sub.name, []).append(future)
        self._set_syncing(sub, True)
        if sub.task is not None:
            sub.task.cancel()
        sub.task = asyncio.create_task(self._sync(sub, conn, future), name=f"feed-sync-{sub.event}")

    def _set_syncing(self, sub: _Subscription, syncing: bool) -> None:
        sub.syncing = syncing
        self.sink.set_syncing(sub.event, syncing)

    async def _sync(self, sub: _Subscription, conn: PubSub, confirmed: asyncio.Future[None]) -> None:
        """Task boundary: after the subscription is confirmed, dispatch what the log holds after the sink's
        position (or learn the log's end the first time), then what pub/sub delivered meanwhile."""
        try:
            await confirmed
            while True:
                await self._backfill(sub.event)
                kept, gap = sub.pending, sub.gap
                sub.pending, sub.gap = [], False
                self.sink.deliver(sub.event, kept)
                if not gap:
                    break
            self._set_syncing(sub, False)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("catching up %s after subscribing failed; reconnecting", sub.event, exc_info=True)
            await conn.aclose()

    async def _backfill(self, event: str) -> None:
        sink = self.sink
        cursor = sink.position(event)
        if cursor is None:
            sink.start_at(event, await self.last_position(event) or ORIGIN)
            return
        try:
            while True:
                messages = await self.read_after(event, cursor, self.batch)
                sink.deliver(event, messages)
                if len(messages) < self.batch:
                    return
                cursor = messages[-1].position or cursor
        except SeqExpired:
            logger.warning("messages of %s were trimmed while pub/sub was down; readers resync", event)
            sink.deliver(event, [resync()])
            sink.start_at(event, await self.last_position(event) or ORIGIN)

    # --- the connections --------------------------------------------------------------------------

    async def _run(self, shard: _Shard) -> None:
        """Task boundary: keep one pub/sub connection for ``shard``, resubscribing and backfilling after every
        loss; waits from 50 ms doubling to 5 s (each 0.5-1 x that), from 50 ms again once a connection came up.
        On a cluster, each attempt first moves subscriptions whose slot another primary now serves; a shard
        left with none ends."""
        failures = 0
        while True:
            failed: Exception | None = None
            try:
                if self.store.sharded:
                    await self._replace(shard, refresh=failures > 0)
                    if not shard.subs:
                        if self._shards.get(shard.name) is shard:
                            del self._shards[shard.name]
                        return
                    seed = next(iter(shard.subs))
                    conn = shard.conn = await self.store.open_pubsub(shard_of=seed)
                else:
                    conn = shard.conn = await self.store.open_pubsub()
                shard.confirmations.clear()
                names = []
                for sub in shard.subs.values():
                    self._start_sync(sub, shard, conn)
                    names.append(sub.name)
                if names and self.store.sharded:  # SSUBSCRIBE refuses channels of several slots at once
                    for name in names:
                        await conn.subscribe(name)
                elif names:
                    await conn.subscribe(*names)
                logger.info("feed: pub/sub connected %s, %d events followed", shard.name, len(names))
                failures = 0
                await self._read(shard, conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failed = exc
            finally:
                await self._lost(shard)
            failures += 1
            wait = _BACKOFF.delay(failures)
            if failed is not None:
                logger.warning("feed: pub/sub %s lost (%s); reconnecting in %.2fs", shard.name, failed, wait)
            await asyncio.sleep(wait)

    async def _replace(self, shard: _Shard, *, refresh: bool) -> None:
        """Move each of ``shard``'s subscriptions that another primary now serves to that primary's shard."""
        for sub in list(shard.subs.values()):
            name = await self.store.shard_name(sub.name, refresh=refresh)
            refresh = False
            if name != shard.name and shard.subs.get(sub.name) is sub:
                del shard.subs[sub.name]
                await self._place(sub, name)

    async def _lost(self, shard: _Shard) -> None:
        conn, shard.conn = shard.conn, None
        for sub in shard.subs.values():
            self._set_syncing(sub, True)  # until resubscribed and caught up
            if sub.task is not None:
                sub.task.cancel()
        for futures in shard.confirmations.values():
            for future in futures:
                future.cancel()
        shard.confirmations.clear()
        if conn is not None:
            await conn.aclose()
        self.reconnects += 1

    async def _read(self, shard: _Shard, conn: PubSub) -> None:
        """Read replies. Messages of one channel that are already here together are dispatched as one batch
        (when the hub falls behind, each reader gets one write for several messages instead of one each);
        any other reply first flushes the batch, so order is kept."""
        waiting_pong = False
        batch: list[Message] = []
        batch_sub: _Subscription | None = None
        subs = shard.subs
        sharded = self.store.sharded
        while True:
            reply = await conn.read(0 if batch else self.ping_seconds)  # 0: only what has arrived
            sub = subs.get(reply.channel) if reply is not None and reply.kind == "message" else None
            if batch_sub is not None and (sub is not batch_sub or batch_sub.syncing):
                self.sink.deliver(batch_sub.event, batch)
                batch, batch_sub = [], None
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
                if sub is None:
                    continue
                try:
                    message = Message.from_published(reply.data)
                except ValueError:
                    logger.warning("feed: undecodable message on %s", reply.channel)
                    continue
                if sub.syncing:
                    if len(sub.pending) >= self.batch * 20:
                        sub.gap = True
                    elif not sub.gap:
                        sub.pending.append(message)
                    continue
                batch.append(message)
                batch_sub = sub
                if len(batch) >= _BATCH_MAX:
                    self.sink.deliver(sub.event, batch)
                    batch, batch_sub = [], None
            elif reply.kind == "subscribe":
                futures = shard.confirmations.get(reply.channel)
                if futures:
                    future = futures.pop(0)
                    if not future.done():
                        future.set_result(None)
            elif reply.kind == "unsubscribe" and sharded and reply.channel in subs:
                # not ours (unfollow drops the subscription first): the slot moved or its primary failed over
                raise StoreUnavailable(f"the cluster ended the subscription of {reply.channel} (slot moved)")


class MemoryBroker:
    """An in-process broker over its own log, for tests of the hub without Redis: ``publish`` appends and
    delivers at once (or holds the message back, as a PUBLISH that a log read overtook)."""

    def __init__(self) -> None:
        self.reconnects = 0
        self._sink: Sink | None = None
        self._log: dict[str, list[Message]] = {}
        self._followed: set[str] = set()
        self._clock = 0

    async def start(self, sink: Sink) -> None:
        self._sink = sink

    async def close(self) -> None:
        self._followed.clear()

    async def follow(self, event: str) -> None:
        assert self._sink is not None, "start() first"
        if event not in self._followed:
            self._followed.add(event)
            self._sink.start_at(event, await self.last_position(event) or ORIGIN)
            self._sink.set_syncing(event, False)

    async def unfollow(self, event: str) -> None:
        self._followed.discard(event)

    def publish(self, event: str, kind: str, data: dict[str, object], *, deliver: bool = True) -> Message:
        """Append to the log and deliver; ``deliver=False`` holds it back (a PUBLISH a log read overtook)."""
        self._clock += 1
        message = Message(kind, f"{self._clock}-0", dict(data))
        self._log.setdefault(event, []).append(message)
        if deliver and event in self._followed and self._sink is not None:
            self._sink.deliver(event, [message])
        return message

    async def read_after(self, event: str, after: Position, limit: int) -> list[Message]:
        return [m for m in self._log.get(event, []) if m.position is not None and m.position > after][:limit]

    async def last_position(self, event: str) -> Position | None:
        log = self._log.get(event)
        return log[-1].position if log else None
