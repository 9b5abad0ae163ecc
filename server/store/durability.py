"""The store's connection and its one write path: every write script, then the wait for its fsync when needed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Sequence
from enum import StrEnum
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from server.errors import OutcomeUnknown, StoreUnavailable
from server.store import scripts
from server.store.keys import Keys

__all__ = ["Durability", "DurableStore", "guard"]

logger = logging.getLogger(__name__)

_NOT_READY = ("LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN")


class Durability(StrEnum):
    """How an acknowledged write reaches the disk."""

    FSYNC_ALWAYS = "fsync-always"  # the store fsyncs its AOF before answering
    WAITAOF = "waitaof"  # the store has AOF; we wait for the fsync with WAITAOF after each write
    NONE = "none"  # no AOF: an acknowledged write can be lost


@contextlib.contextmanager
def guard() -> Iterator[None]:
    """Turn connection failures and time-outs into 503 answers."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise StoreUnavailable(f"the store is unavailable: {exc.__class__.__name__}") from exc
    except RuntimeError as exc:
        if "closed" not in str(exc):  # uvloop's "unable to perform operation on <TCPTransport closed=True>"
            raise
        raise StoreUnavailable("the store is unavailable: its connection was reset") from exc
    except OutOfMemoryError as exc:
        raise StoreUnavailable("the store is out of memory: nothing was written", retry_after=10) from exc
    except ResponseError as exc:
        if str(exc).startswith("OOM"):
            raise StoreUnavailable("the store is out of memory: nothing was written", retry_after=10) from exc
        if str(exc).startswith(_NOT_READY):
            raise StoreUnavailable(f"the store is not ready: {exc}") from exc
        raise


class DurableStore:
    """The client, the key names and the write path that every aggregate of the Store shares."""

    def __init__(
        self,
        client: Any,  # redis.asyncio.Redis; its stubs mix sync and async results, so Any stops here
        keys: Keys,
        *,
        waitaof_timeout_ms: int = 1000,
        log_max_entries: int = 100_000,
        idempotency_seconds: int = 86_400,
        require_durable: bool = False,
        sharded: bool = False,
    ) -> None:
        self.client = client
        self.keys = keys
        self.durability = Durability.FSYNC_ALWAYS
        self.durability_problem = ""
        self.waitaof_timeout_ms = waitaof_timeout_ms
        self.log_max_entries = log_max_entries
        self.idempotency_seconds = idempotency_seconds
        self.require_durable = require_durable
        self.sharded = sharded
        self._scripts: dict[str, Any] = {}
        self._recheck = True  # the durability mode is checked before the first write and after each reconnect

    async def on_connect(self, connection: Any) -> None:
        """redis-py's connect hook: a new connection may reach a restarted or replaced store, whose
        durability mode may differ, so the next write checks it again first."""
        await connection.on_connect()
        self._recheck = True

    def script(self, name: str) -> Any:
        """The registered script lua/<name>.lua (EVALSHA, loaded on first use)."""
        if name not in self._scripts:
            self._scripts[name] = self.client.register_script(scripts.source(name, sharded=self.sharded))
        return self._scripts[name]

    async def health(self, deadline: float = 0.9) -> str | None:
        """None when the store answers and can take writes, else what is wrong; answers within ``deadline``
        seconds whatever the store does (a stalled store is "not answering")."""
        try:
            async with asyncio.timeout(deadline):
                info = await self.client.info("memory")
        except (TimeoutError, RedisError, OSError) as exc:
            return f"store unavailable: {exc.__class__.__name__}"
        limit = int(info.get("maxmemory", 0))
        if limit and info.get("maxmemory_policy") == "noeviction" and int(info.get("used_memory", 0)) >= limit:
            return "store out of memory"
        return None

    async def check_durability(self) -> Durability:
        """Find how acknowledged writes reach the disk, and remember it for later writes.

        AOF with ``appendfsync always``: every reply means fsynced. AOF with a lazier fsync: WAITAOF after each
        write, if the store has it (Redis 7.2+, Valkey); without it, writes could be lost (NONE). A store whose
        CONFIG command is disabled is assumed to have AOF, and WAITAOF tells at each write.
        ``durability_problem`` says why when the answer is NONE.
        """
        self.durability_problem = ""
        if self.sharded:
            return await self._check_cluster_durability()
        with guard():
            try:
                config = await self.client.config_get("append*")
            except ResponseError:
                self.durability = Durability.WAITAOF
                return self.durability
            if config.get("appendonly") != "yes":
                self.durability = Durability.NONE
                self.durability_problem = "the store has appendonly off"
            elif config.get("appendfsync") == "always":
                self.durability = Durability.FSYNC_ALWAYS
            elif await self._has_waitaof():
                self.durability = Durability.WAITAOF
            else:
                self.durability = Durability.NONE
                self.durability_problem = (
                    f"the store fsyncs its AOF only {config.get('appendfsync')!r} and has no WAITAOF (Redis < 7.2); "
                    "set appendfsync always"
                )
        self._recheck = False
        return self.durability

    async def _check_cluster_durability(self) -> Durability:
        """Every primary of a cluster must fsync each write itself: WAITAOF must run on the connection that
        wrote, and the cluster client routes key-less commands to any node (issue 15 adds it per shard)."""
        with guard():
            answers = await self.client.config_get("append*", target_nodes=self.client.PRIMARIES)
        configs = answers.values() if isinstance(next(iter(answers.values()), None), dict) else [answers]
        lazy = [c for c in configs if c.get("appendonly") != "yes" or c.get("appendfsync") != "always"]
        if lazy:
            self.durability = Durability.NONE
            self.durability_problem = "a cluster primary does not fsync every write (set appendfsync always on each)"
        else:
            self.durability = Durability.FSYNC_ALWAYS
        self._recheck = False
        return self.durability

    async def _has_waitaof(self) -> bool:
        try:
            await self.client.execute_command("WAITAOF", 0, 0, 1)
        except ResponseError:
            return False
        return True

    async def _durability_for_write(self) -> Durability:
        """The durability mode, checked again first when the store may have changed since the last check.

        Raises:
            StoreUnavailable: the store cannot be reached, or it would lose acknowledged writes and
                ``require_durable`` is set (nothing is written).
        """
        if self._recheck:
            before = self.durability
            after = await self.check_durability()
            if after is not before:
                logger.warning("store durability changed: %s -> %s", before, after)
        if self.durability is Durability.NONE and self.require_durable:
            raise StoreUnavailable(f"{self.durability_problem}: acknowledged updates could be lost", retry_after=10)
        return self.durability

    async def run_write(self, script: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run one write script; when the store does not fsync each write, wait for the fsync (WAITAOF)
        on the same connection, outside MULTI, before returning.

        Raises:
            StoreUnavailable: nothing was written (the store is unreachable, full, or not durable).
            OutcomeUnknown: the script was sent but its answer or its fsync did not come in time: it may have
                been applied and broadcast (a retry with the same Idempotency-Key answers the first result).
        """
        durability = await self._durability_for_write()
        try:
            with guard():
                if durability is not Durability.WAITAOF:
                    return await script(keys=keys, args=args)
                async with self.client.pipeline(transaction=False) as pipe:
                    await script(keys=keys, args=args, client=pipe)
                    pipe.execute_command("WAITAOF", 1, 0, self.waitaof_timeout_ms)
                    result, (local, _replicas) = await pipe.execute()
        except StoreUnavailable as exc:
            cause = exc.__cause__
            if isinstance(cause, RedisTimeoutError) and not str(cause).startswith("Timeout connecting"):
                raise OutcomeUnknown("the store did not answer in time: the write may or may not be stored") from exc
            raise
        if int(local) < 1:
            raise OutcomeUnknown("the store did not confirm the write on disk in time: it may or may not be stored")
        return result
