"""A dedicated pub/sub connection for live delivery that never reconnects by itself, so a drop is never silent."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from server.errors import StoreUnavailable
from server.store.durability import DurableStore, guard

__all__ = ["PubSub", "PubSubReply", "PubSubStore"]


class PubSubStore(DurableStore):
    """Opens the connections the live feed subscribes on."""

    async def shard_name(self, channel: str, *, refresh: bool = False) -> str:
        """The node (host:port) of the primary serving ``channel``'s slot on a cluster, "" on one server;
        ``refresh`` reads the slot map again first (after a failover or a slot move).

        Raises:
            StoreUnavailable: no node answered.
        """
        if not self.sharded:
            return ""
        with guard():
            if refresh:
                await self.client.nodes_manager.initialize()
            else:
                await self.client.initialize()
        return str(self.client.get_node_from_key(channel).name)

    async def open_pubsub(self, shard_of: str | None = None) -> PubSub:
        """A new dedicated pub/sub connection (see PubSub); raises StoreUnavailable when none can be opened.

        On a Redis Cluster, ``shard_of`` names a channel: the connection goes to the primary that serves the
        channel's slot and subscribes with SSUBSCRIBE, so a follower needs one connection per shard it follows,
        and one SSUBSCRIBE per slot. When the slot moves (failover, resharding) the server ends the subscription
        with an ``unsubscribe`` reply: open again (the slot map is refreshed) and backfill from the log.
        """
        if not self.sharded:
            pool = self.client.connection_pool
            connection = pool.connection_class(**{**pool.connection_kwargs, "health_check_interval": 0})
        elif shard_of is None:
            raise ValueError("a subscription on a Redis Cluster names a channel of its shard")
        else:
            with guard():
                await self.client.initialize()
            node = self.client.get_node_from_key(shard_of)
            connection = node.connection_class(**{**node.connection_kwargs, "health_check_interval": 0})
        with guard():
            await connection.connect()
        return PubSub(connection, sharded=self.sharded)


_SHARDED_KINDS = {"smessage": "message", "ssubscribe": "subscribe", "sunsubscribe": "unsubscribe"}


@dataclass(frozen=True, slots=True)
class PubSubReply:
    """One reply on a pub/sub connection: kind is message, subscribe, unsubscribe or pong."""

    kind: str
    channel: str
    data: bytes


class PubSub:
    """One dedicated pub/sub connection that never reconnects by itself: after any failure it stays broken
    (every call raises StoreUnavailable) and its owner opens a new one, so a drop is never silent."""

    def __init__(self, connection: Any, *, sharded: bool = False) -> None:
        self._connection = connection
        self._broken = False
        self._sharded = sharded  # SSUBSCRIBE on a cluster shard; replies read as plain pub/sub ones

    async def _send(self, *args: str) -> None:
        if self._broken or not self._connection.is_connected:  # never let redis-py reconnect silently
            self._broken = True
            raise StoreUnavailable("the pub/sub connection is closed")
        try:
            await self._connection.send_command(*args, check_health=False)
        except (RedisError, OSError) as exc:
            self._broken = True
            raise StoreUnavailable(f"pub/sub connection lost: {exc.__class__.__name__}") from exc

    async def subscribe(self, *channels: str) -> None:
        """Send SUBSCRIBE (SSUBSCRIBE on a cluster: the channels of one slot); each channel's confirmation
        arrives later through read(), in command order."""
        await self._send("SSUBSCRIBE" if self._sharded else "SUBSCRIBE", *channels)

    async def unsubscribe(self, *channels: str) -> None:
        await self._send("SUNSUBSCRIBE" if self._sharded else "UNSUBSCRIBE", *channels)

    async def ping(self) -> None:
        """Send PING; its answer arrives through read() as a ``pong`` reply."""
        await self._send("PING")

    async def read(self, timeout: float) -> PubSubReply | None:
        """The next reply, or None when nothing arrived within ``timeout`` seconds.

        Raises:
            StoreUnavailable: the connection failed; it stays broken.
        """
        if self._broken:
            raise StoreUnavailable("the pub/sub connection is closed")
        try:
            reply = await self._connection.read_response(timeout=timeout)
        except (RedisError, OSError) as exc:
            self._broken = True
            raise StoreUnavailable(f"pub/sub connection lost: {exc.__class__.__name__}") from exc
        if reply is None:
            if not self._connection.is_connected:
                self._broken = True
                raise StoreUnavailable("pub/sub connection lost")
            return None
        kind = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
        kind = _SHARDED_KINDS.get(kind, kind)
        channel = reply[1] if len(reply) > 1 else b""
        data = reply[2] if len(reply) > 2 else b""
        return PubSubReply(
            kind,
            channel.decode() if isinstance(channel, bytes) else str(channel),
            data if isinstance(data, bytes) else str(data).encode(),
        )

    async def aclose(self) -> None:
        self._broken = True
        with contextlib.suppress(RedisError, OSError):
            await self._connection.disconnect(nowait=True)
