"""The Store: the only door to Redis, one façade over the aggregates (log, updates, events, tokens, readers)."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from config.settings import Settings
from server.store.durability import Durability, guard
from server.store.events import EventStore
from server.store.keys import Keys
from server.store.log import Entry, Seq, pad_seq
from server.store.pubsub import PubSub, PubSubReply, PubSubStore
from server.store.readers import ReaderStore
from server.store.tokens import TokenStore
from server.store.updates import Created, UpdateStore

__all__ = ["Created", "Durability", "Entry", "Keys", "PubSub", "PubSubReply", "Seq", "Store", "guard", "pad_seq"]


class Store(UpdateStore, EventStore, TokenStore, ReaderStore, PubSubStore):
    """Plenary's data in Redis or Valkey. Every write that answers 201/200 is durable on return."""

    @classmethod
    async def from_settings(cls, settings: Settings, url: str | None = None) -> Store:
        """Open the store the settings describe (``url`` instead of ``redis_url`` when given): the server, the
        worker and the CLI all use every store setting the same way."""
        return await cls.open(
            url or settings.redis_url,
            prefix=settings.redis_prefix,
            timeout=settings.redis_timeout,
            waitaof_timeout_ms=settings.waitaof_timeout_ms,
            log_max_entries=settings.log_max_entries,
            idempotency_seconds=settings.idempotency_hours * 3600,
            require_durable=settings.require_durable_store,
            cluster=settings.redis_cluster,
        )

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        prefix: str = "plenary",
        timeout: float = 2.0,
        waitaof_timeout_ms: int = 1000,
        log_max_entries: int = 100_000,
        idempotency_seconds: int = 86_400,
        require_durable: bool = False,
        cluster: bool = False,
    ) -> Store:
        """Connect (lazily; the first command opens the connection) and return the store.

        Every command fails within ``timeout`` seconds when the store does not answer (no retries on one
        server: the client sees a 503 and retries itself; a cluster client retries a moved slot), and each new
        connection has the durability checked again. ``cluster``: ``url`` names any seed node of a Redis
        Cluster; the scripts announce with SPUBLISH on each event's shard channel.
        """
        store = cls(
            None,
            Keys(prefix),
            waitaof_timeout_ms=waitaof_timeout_ms,
            log_max_entries=log_max_entries,
            idempotency_seconds=idempotency_seconds,
            require_durable=require_durable,
            sharded=cluster,
        )
        options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "health_check_interval": 30,
        }
        if cluster:  # the nodes' connections are made from connection_kwargs once the slots are known
            store.client = RedisCluster.from_url(url, max_connections=64, **options)
            store.client.connection_kwargs["redis_connect_func"] = store.on_connect
        else:
            store.client = aioredis.Redis.from_url(url, max_connections=256, redis_connect_func=store.on_connect,
                                                   **options)  # fmt: skip
        return store

    async def aclose(self) -> None:
        await self.client.aclose()
