"""Move the data Plenary 0.1.0 stored under its key names to the current ones (`plenary store migrate`, and
`plenary serve` before it serves).

0.1.0 ran on one Redis node only, so every move is a RENAMENX or a write on that node. Each key is moved whole or
not at all, and an old key is deleted only once its data is under the new name: interrupting and running again
is safe, and running it on migrated data does nothing. Two records change shape: a token gets its ``id`` (the
same one under its name and under its digest), and an update gets ``owner``, the id of the token whose name is
its author (``admin`` for the configured admin token), so a reporter can still edit their own updates.
Idempotency keys, reader counts and live-process keys are dropped: they expire within a day anyway.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from typing import Any

from redis.exceptions import ResponseError

from server import codec
from server.store.keys import Keys
from server.store.scripts import source

__all__ = ["ClusterRefused", "has_old_data", "migrate"]

_SLUG = r"[a-z0-9][a-z0-9-]*"
# An event's 0.1.0 keys, after "<prefix>:ev:<event>:"; the new ones have a {tag} there, never a bare slug.
_EVENT_KEY = re.compile(rf"ev:(?P<event>{_SLUG}):(?P<rest>.+)")


class ClusterRefused(RuntimeError):
    """The store is a Redis Cluster: 0.1.0 never ran on one, so there is nothing to migrate there."""


def _old(prefix: str, name: str) -> str:
    return f"{prefix}:{name}"


async def has_old_data(client: Any, prefix: str) -> bool:
    """True when 0.1.0's events or tokens are still under their old names (moved last, so this stays true until
    a migration finished)."""
    return bool(await client.exists(_old(prefix, "events"), _old(prefix, "tokens")))


async def _refuse_cluster(client: Any) -> None:
    info = await client.info("cluster")
    if int(info.get("cluster_enabled", 0)):
        raise ClusterRefused("the store is a Redis Cluster; Plenary 0.1.0 never ran on one, so there is nothing to "
                             "migrate")  # fmt: skip


async def _scan(client: Any, prefix: str) -> list[str]:
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + ":*"
    return sorted([key.decode() async for key in client.scan_iter(match=pattern, count=1000)])


class _Migration:
    """One run: what it moved (by kind), and what it had to leave under the old names and why."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.keys = Keys(prefix)
        self.moved: Counter[str] = Counter()
        self.problems: list[str] = []
        self.kept_digests: set[str] = set()  # of tokens left under the old names

    async def move(self, old: str, new: str, kind: str) -> None:
        """Rename ``old`` to ``new``; when ``new`` exists already (an earlier, interrupted run, or the new server
        wrote there), merge what the type allows and keep ``old`` when it cannot be merged."""
        kind_of = (await self.client.type(old)).decode()
        if kind_of == "none":
            return
        try:
            renamed = await self.client.renamenx(old, new)
        except ResponseError as exc:  # another process moved it since (several servers start at once)
            if "no such key" in str(exc).lower():
                return
            raise
        if renamed:
            self.moved[kind] += 1
            return
        if kind_of == "hash":
            for field, value in (await self.client.hgetall(old)).items():
                await self.client.hsetnx(new, field, value)
        elif kind_of == "zset":
            await self.client.zunionstore(new, [new, old], aggregate="MIN")
        elif kind_of == "stream":
            last = await self.client.xrevrange(old, count=1)
            if last and not await self.client.xrange(new, min=last[0][0], max=last[0][0]):
                self.problems.append(f"{old}: kept, {new} already holds other entries")
                return
        # a string (the pin): the new one was written later and wins
        await self.client.delete(old)
        self.moved[kind] += 1

    async def tokens(self) -> dict[str, str]:
        """Move every token, giving it an id; returns token name -> id for the updates' owners."""
        old_tokens = _old(self.prefix, "tokens")
        taken: set[str] = set()
        move = self.client.register_script(source("migrate_token"))
        prefixes = [_old(self.prefix, "token:"), self.keys.token_by_digest("")]
        for name, raw in (await self.client.hgetall(old_tokens)).items():
            record = codec.unpack(raw)
            record.setdefault("id", secrets.token_hex(8))
            result = await move(keys=[old_tokens, self.keys.tokens()], args=[name, codec.pack(record), *prefixes])
            if result[0] == b"taken":  # the name was given to a new token meanwhile
                self.problems.append(f"token {name.decode()!r}: kept under {old_tokens}, a new token has its name")
                taken.add(name.decode())
                self.kept_digests.add(result[1].decode())
            elif result[0] == b"ok":
                self.moved["tokens"] += 1
        owners = {"admin": "admin"}  # the configured admin token acts as id "admin"
        for name, raw in (await self.client.hgetall(self.keys.tokens())).items():
            owners[name.decode()] = str(codec.unpack(raw)["id"])
        for name in taken:  # its 0.1.0 updates are not the new token's: editors only
            owners.pop(name)
        return owners

    async def update(self, old: str, event: str, update_id: str, owners: dict[str, str]) -> None:
        """Move one update's record, adding its owner beside it."""
        fields = await self.client.hgetall(old)
        if fields:
            author = str(codec.unpack(fields[b"d"]).get("author", {}).get("name", ""))
            move = self.client.register_script(source("migrate_update"))
            if await move(keys=[old, self.keys.update(event, update_id)], args=[owners.get(author, "")]):
                self.moved["updates"] += 1

    async def event_key(self, key: str, event: str, rest: str, owners: dict[str, str]) -> None:
        k = self.keys
        head, _, tail = rest.partition(":")
        if head == "u" and tail:
            await self.update(key, event, tail, owners)
        elif rest == "log":
            await self.move(key, k.log(event), "logs")
        elif rest == "sessions":
            await self.move(key, k.sessions(event), "session lists")
        elif rest == "idx":
            await self.move(key, k.updates_by_seq(event), "indexes")
        elif head == "day" and tail:
            await self.move(key, k.updates_of_day(event, tail), "indexes")
        elif head == "ses" and tail:
            await self.move(key, k.updates_of_session(event, tail), "indexes")
        elif rest == "pinned":
            await self.move(key, k.pinned(event), "pins")
        elif head == "refl" and tail:
            await self.move(key, k.reflections(event, tail), "reflections posts")
        elif rest == "readers":
            await self.drop(key, "reader counts")

    async def drop(self, key: str, kind: str) -> None:
        await self.client.delete(key)
        self.moved[f"{kind} dropped"] += 1

    async def run(self) -> None:
        owners = await self.tokens()
        start = len(self.prefix) + 1
        for key in await _scan(self.client, self.prefix):
            rest = key[start:]
            if found := _EVENT_KEY.fullmatch(rest):
                await self.event_key(key, found["event"], found["rest"], owners)
            elif rest.startswith("token:") and rest[6:] not in self.kept_digests:  # its name was revoked
                await self.drop(key, "orphan token digests")
            elif rest.startswith("idem:"):
                await self.drop(key, "idempotency keys")
            elif rest.startswith("proc:") and rest.endswith(":alive"):
                await self.drop(key, "process keys")
        await self.move(_old(self.prefix, "events"), self.keys.events(), "event lists")  # last: see has_old_data


async def migrate(client: Any, prefix: str) -> tuple[Counter[str], list[str]]:
    """Move 0.1.0's keys under ``prefix`` to the current names; returns what moved (by kind) and the keys kept
    because they could not be merged.

    Raises:
        ClusterRefused: the store is a Redis Cluster.
    """
    await _refuse_cluster(client)
    migration = _Migration(client, prefix)
    await migration.run()
    return migration.moved, migration.problems
