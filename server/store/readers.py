"""Live reader counts across server processes: a field per process in each event's hash, kept by an expiring key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from server.store.durability import DurableStore, guard

__all__ = ["ReaderStore"]


class ReaderStore(DurableStore):
    """Reader counts are advisory: plain commands, no durability wait."""

    async def put_reader_counts(self, process: str, counts: Mapping[str, int], ttl_seconds: int) -> None:
        """Record this process's live reader count per event (0 removes the field) and keep it alive for
        ``ttl_seconds``; counts of a process that stops refreshing stop counting when its key expires."""
        with guard():
            async with self.client.pipeline(transaction=False) as pipe:
                for event, count in counts.items():
                    if count > 0:
                        pipe.hset(self.keys.readers(event), process, count)
                    else:
                        pipe.hdel(self.keys.readers(event), process)
                pipe.set(self.keys.process_alive(process), 1, ex=ttl_seconds)
                await pipe.execute()

    async def drop_reader_counts(self, process: str, events: Sequence[str]) -> None:
        """Remove this process's counts at once (clean shutdown)."""
        with guard():
            async with self.client.pipeline(transaction=False) as pipe:
                for event in events:
                    pipe.hdel(self.keys.readers(event), process)
                pipe.delete(self.keys.process_alive(process))
                await pipe.execute()

    async def reader_counts(self, event: str) -> dict[str, int]:
        """Live reader count of each process still alive, by process id; fields of expired processes are
        removed on the way."""
        key = self.keys.readers(event)
        with guard():
            raw = await self.client.hgetall(key)
            processes = [field.decode() for field in raw]
            if not processes:
                return {}
            alive = await self.client.mget([self.keys.process_alive(p) for p in processes])
            dead = [p for p, flag in zip(processes, alive, strict=True) if flag is None]
            if dead:
                await self.client.hdel(key, *dead)
        return {p: int(raw[p.encode()]) for p, flag in zip(processes, alive, strict=True) if flag is not None}
