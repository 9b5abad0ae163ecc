"""The store's connection and its one write path: every write script, then the wait for its fsync when needed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from enum import StrEnum
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from server.errors import StoreUnavailable
from server.store import scripts
from server.store.keys import Keys

__all__ = ["Durability", "DurableStore", "guard"]


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
    except ResponseError as exc:
        if str(exc).startswith(("LOADING", "BUSY", "MASTERDOWN", "READONLY")):
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
        sharded: bool = False,
    ) -> None:
        self.client = client
        self.keys = keys
        self.durability = Durability.FSYNC_ALWAYS
        self.durability_problem = ""
        self.waitaof_timeout_ms = waitaof_timeout_ms
        self.log_max_entries = log_max_entries
        self.idempotency_seconds = idempotency_seconds
        self.sharded = sharded
        self._scripts: dict[str, Any] = {}

    def script(self, name: str) -> Any:
        """The registered script lua/<name>.lua (EVALSHA, loaded on first use)."""
        if name not in self._scripts:
            self._scripts[name] = self.client.register_script(scripts.source(name, sharded=self.sharded))
        return self._scripts[name]

    async def ping(self) -> bool:
        """True when the store answers PING."""
        try:
            return bool(await self.client.ping())
        except (RedisError, OSError):
            return False

    async def check_durability(self) -> Durability:
        """Find how acknowledged writes reach the disk, and remember it for later writes.

        AOF with ``appendfsync always``: every reply means fsynced. AOF with a lazier fsync: WAITAOF after each
        write, if the store has it (Redis 7.2+, Valkey); without it, writes could be lost (NONE). A store whose
        CONFIG command is disabled is assumed to have AOF, and WAITAOF tells at each write.
        ``durability_problem`` says why when the answer is NONE.
        """
        self.durability_problem = ""
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
        return self.durability

    async def _has_waitaof(self) -> bool:
        try:
            await self.client.execute_command("WAITAOF", 0, 0, 1)
        except ResponseError:
            return False
        return True

    async def run_write(self, script: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run one write script; when the store does not fsync each write, wait for the fsync (WAITAOF)
        on the same connection, outside MULTI, before returning."""
        with guard():
            if self.durability is not Durability.WAITAOF:
                return await script(keys=keys, args=args)
            async with self.client.pipeline(transaction=False) as pipe:
                await script(keys=keys, args=args, client=pipe)
                pipe.execute_command("WAITAOF", 1, 0, self.waitaof_timeout_ms)
                result, (local, _replicas) = await pipe.execute()
            if int(local) < 1:
                raise StoreUnavailable("the store did not confirm the write on disk in time")
            return result
