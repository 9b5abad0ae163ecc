"""RedisStore, the only importer of redis: streams, Lua append-and-publish, records, indexes."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from config.settings import Settings
from server import codec
from server.errors import Conflict, Invalid, NotFound, SeqExpired, StoreUnavailable
from server.models import Event, Session, TokenInfo
from server.store import Entry, Keys, pad_seq

logger = logging.getLogger(__name__)

# Index members are "<padded seq>|<id>"; ids are [a-z0-9], so "~" sorts after every id of the same seq.
_LEX_MEMBER = """
local function member(seq, id)
  local ms, n = string.match(seq, '^(%d+)-(%d+)$')
  return string.format('%015d-%010d', tonumber(ms), tonumber(n)) .. '|' .. id
end
"""

# Every log entry is appended with log_add and announced with announce, last in its script: the pub/sub payload
# "<seq>\n<type>\n<msgpack>" is what Message.from_published (server/feed/wire.py) reads.
LOG_LUA = """
local function log_add(log, maxlen, kind, payload)
  return redis.call('XADD', log, 'MAXLEN', '~', maxlen, '*', 't', kind, 'd', payload)
end
local function announce(channel, seq, kind, payload)
  redis.call('PUBLISH', channel, seq .. '\\n' .. kind .. '\\n' .. payload)
end
"""

# KEYS: log, channel, idem (or ""), record, idx_all, idx_day, idx_session (or ""), pinned
# ARGV: payload, id, fingerprint, idem_ttl, maxlen, pinned(0/1)
_CREATE = (
    LOG_LUA
    + _LEX_MEMBER
    + """
if KEYS[3] ~= '' then
  local prev = redis.call('HMGET', KEYS[3], 'fp', 'seq', 'id')
  if prev[1] then return {'dup', prev[1], prev[2], prev[3]} end
end
local seq = log_add(KEYS[1], ARGV[5], 'update', ARGV[1])
redis.call('HSET', KEYS[4], 'seq', seq, 'v', '1', 'd', ARGV[1])
local m = member(seq, ARGV[2])
redis.call('ZADD', KEYS[5], 0, m)
redis.call('ZADD', KEYS[6], 0, m)
if KEYS[7] ~= '' then redis.call('ZADD', KEYS[7], 0, m) end
local unpin = ''
if ARGV[6] == '1' then unpin = redis.call('GET', KEYS[8]) or ''; redis.call('SET', KEYS[8], ARGV[2]) end
if KEYS[3] ~= '' then
  redis.call('HSET', KEYS[3], 'fp', ARGV[3], 'seq', seq, 'id', ARGV[2])
  redis.call('EXPIRE', KEYS[3], ARGV[4])
end
announce(KEYS[2], seq, 'update', ARGV[1])
return {'ok', seq, unpin}
"""
)

# KEYS: log, channel, record, old_idx_day, old_idx_session (or ""), new_idx_day, new_idx_session (or ""),
#       idx_all, pinned
# ARGV: payload, expected_version, new_version, maxlen, id, pinned(0/1)
_EDIT = (
    LOG_LUA
    + _LEX_MEMBER
    + """
local cur = redis.call('HMGET', KEYS[3], 'v', 'seq')
if not cur[1] then return {'gone'} end
if cur[1] ~= ARGV[2] then return {'stale', cur[1]} end
local m = member(cur[2], ARGV[5])
redis.call('ZREM', KEYS[4], m)
if KEYS[5] ~= '' then redis.call('ZREM', KEYS[5], m) end
redis.call('ZADD', KEYS[6], 0, m)
if KEYS[7] ~= '' then redis.call('ZADD', KEYS[7], 0, m) end
local pinned = redis.call('GET', KEYS[9])
local unpin = ''
if ARGV[6] == '1' then unpin = pinned or ''; redis.call('SET', KEYS[9], ARGV[5])
elseif pinned == ARGV[5] then redis.call('DEL', KEYS[9]) end
local seq = log_add(KEYS[1], ARGV[4], 'edit', ARGV[1])
redis.call('HSET', KEYS[3], 'v', ARGV[3], 'd', ARGV[1])
announce(KEYS[2], seq, 'edit', ARGV[1])
return {'ok', seq, unpin}
"""
)

# KEYS: log, channel, record, idx_day, idx_session (or ""), idx_all, pinned
# ARGV: payload ({"id"}), maxlen, id, expected version (the index keys were computed from that version)
_DELETE = (
    LOG_LUA
    + _LEX_MEMBER
    + """
local found = redis.call('HMGET', KEYS[3], 'seq', 'v')
local cur = found[1]
if not cur then return {'gone'} end
if found[2] ~= ARGV[4] then return {'stale'} end
local m = member(cur, ARGV[3])
redis.call('ZREM', KEYS[4], m)
if KEYS[5] ~= '' then redis.call('ZREM', KEYS[5], m) end
redis.call('ZREM', KEYS[6], m)
if redis.call('GET', KEYS[7]) == ARGV[3] then redis.call('DEL', KEYS[7]) end
redis.call('DEL', KEYS[3])
local seq = log_add(KEYS[1], ARGV[2], 'delete', ARGV[1])
announce(KEYS[2], seq, 'delete', ARGV[1])
return {'ok', seq}
"""
)

# KEYS: log, channel, hash (or ""); ARGV: type, payload, maxlen, hash field
# Appends a plain entry (session, reflections), optionally storing its record in a hash, and publishes it.
_APPEND = (
    LOG_LUA
    + """
local created = 0
if KEYS[3] ~= '' then created = redis.call('HSET', KEYS[3], ARGV[4], ARGV[2]) end
local seq = log_add(KEYS[1], ARGV[3], ARGV[1], ARGV[2])
announce(KEYS[2], seq, ARGV[1], ARGV[2])
return {'ok', seq, created}
"""
)

# KEYS: log, channel, sessions hash, session index; ARGV: session id, payload, maxlen
# Deletes a session that no live update refers to and publishes a ``session`` entry saying so.
_DELETE_SESSION = (
    LOG_LUA
    + """
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 0 then return {'gone'} end
local used = redis.call('ZCARD', KEYS[4])
if used > 0 then return {'used', used} end
redis.call('HDEL', KEYS[3], ARGV[1])
local seq = log_add(KEYS[1], ARGV[3], 'session', ARGV[2])
announce(KEYS[2], seq, 'session', ARGV[2])
return {'ok', seq}
"""
)

# KEYS: events; ARGV: event id, record. One write, so that run_write can wait for its fsync.
_CREATE_EVENT = "return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])"

# KEYS: tokens, token_hash; ARGV: name, record. The lookup key holds the record too: one read per request.
_CREATE_TOKEN = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1
"""

# KEYS: tokens; ARGV: name, key prefix of token hashes
_REVOKE_TOKEN = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local rec = cmsgpack.unpack(raw)
redis.call('DEL', ARGV[2] .. rec['hash'])
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
"""


class Durability(StrEnum):
    """How an acknowledged write reaches the disk."""

    FSYNC_ALWAYS = "fsync-always"  # the store fsyncs its AOF before answering
    WAITAOF = "waitaof"  # the store has AOF; we wait for the fsync with WAITAOF after each write
    NONE = "none"  # no AOF: an acknowledged write can be lost


@dataclass(frozen=True, slots=True)
class Created:
    """Result of a create: the stored record and whether this call created it (False: idempotent replay)."""

    record: dict[str, Any]
    created: bool
    unpinned: str | None = None  # the update that was pinned before this one took its place


@contextlib.contextmanager
def _guard() -> Any:
    """Turn connection failures and time-outs into 503 answers."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        raise StoreUnavailable(f"the store is unavailable: {exc.__class__.__name__}") from exc
    except ResponseError as exc:
        if str(exc).startswith(("LOADING", "BUSY", "MASTERDOWN", "READONLY")):
            raise StoreUnavailable(f"the store is not ready: {exc}") from exc
        raise


guard = _guard  # for the modules that share the store's connection (reflections_store)


def _decode_record(fields: Mapping[bytes, bytes]) -> dict[str, Any]:
    record = codec.unpack(fields[b"d"])
    record["seq"] = fields[b"seq"].decode()
    record["version"] = int(fields[b"v"])
    return record


def _trimmed_after(info: Any, after: str) -> bool:
    """True when entries newer than ``after`` may have been trimmed from the stream (so they are lost), given
    the stream's XINFO STREAM answer (an error when there is no stream: nothing was ever trimmed).

    The log is only ever trimmed from its start (never XDEL), so entries were lost exactly when some were
    trimmed at all and the oldest one left is newer than ``after``.
    """
    if isinstance(info, ResponseError):
        return False
    if isinstance(info, Exception):
        raise info
    if int(info.get("entries-added", 0)) <= int(info.get("length", 0)):
        return False
    first = info.get("first-entry")
    if not first:
        return True
    first_id = first[0].decode() if isinstance(first[0], bytes) else str(first[0])
    return codec.seq_key(first_id) > codec.seq_key(after)


class RedisStore:
    """Plenary's data in Redis or Valkey. Every write that answers 201/200 is durable on return."""

    def __init__(
        self,
        client: Any,  # redis.asyncio.Redis; its stubs mix sync and async results, so Any stops here
        keys: Keys,
        *,
        waitaof_timeout_ms: int = 1000,
        log_max_entries: int = 100_000,
        idempotency_seconds: int = 86_400,
    ) -> None:
        self.client = client
        self.keys = keys
        self.durability = Durability.FSYNC_ALWAYS
        self.durability_problem = ""
        self.waitaof_timeout_ms = waitaof_timeout_ms
        self.log_max_entries = log_max_entries
        self.idempotency_seconds = idempotency_seconds
        self._create = client.register_script(_CREATE)
        self._edit = client.register_script(_EDIT)
        self._delete = client.register_script(_DELETE)
        self._append = client.register_script(_APPEND)
        self._delete_session = client.register_script(_DELETE_SESSION)
        self._create_event = client.register_script(_CREATE_EVENT)
        self._create_token = client.register_script(_CREATE_TOKEN)
        self._revoke_token = client.register_script(_REVOKE_TOKEN)

    @classmethod
    async def from_settings(cls, settings: Settings, url: str | None = None) -> RedisStore:
        """Open the store the settings describe (``url`` instead of ``redis_url`` when given): the server, the
        worker and the CLI all use every store setting the same way."""
        return await cls.open(
            url or settings.redis_url,
            prefix=settings.redis_prefix,
            timeout=settings.redis_timeout,
            waitaof_timeout_ms=settings.waitaof_timeout_ms,
            log_max_entries=settings.log_max_entries,
            idempotency_seconds=settings.idempotency_hours * 3600,
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
    ) -> RedisStore:
        """Connect (lazily; the first command opens the connection) and return the store."""
        client = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout + waitaof_timeout_ms / 1000,
            socket_connect_timeout=timeout,
            health_check_interval=30,
            max_connections=256,
        )
        return cls(
            client,
            Keys(prefix),
            waitaof_timeout_ms=waitaof_timeout_ms,
            log_max_entries=log_max_entries,
            idempotency_seconds=idempotency_seconds,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    # --- service ----------------------------------------------------------------------------------

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
        with _guard():
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
        with _guard():
            if self.durability is not Durability.WAITAOF:
                return await script(keys=keys, args=args)
            async with self.client.pipeline(transaction=False) as pipe:
                await script(keys=keys, args=args, client=pipe)
                pipe.execute_command("WAITAOF", 1, 0, self.waitaof_timeout_ms)
                result, (local, _replicas) = await pipe.execute()
            if int(local) < 1:
                raise StoreUnavailable("the store did not confirm the write on disk in time")
            return result

    # --- tokens -----------------------------------------------------------------------------------

    async def create_token(self, info: TokenInfo, digest: str) -> None:
        """Store a token's name, role, events and hash.

        Raises:
            Conflict: a token with this name exists.
        """
        record = codec.pack({**info.model_dump(mode="json"), "hash": digest})
        done = await self.run_write(
            self._create_token, [self.keys.tokens(), self.keys.token_hash(digest)], [info.name, record]
        )
        if not done:
            raise Conflict(f"a token named {info.name!r} exists; revoke it first", field="name")

    async def token_by_digest(self, digest: str) -> TokenInfo | None:
        """The token whose SHA-256 is ``digest`` (the key it is stored under), or None."""
        with _guard():
            raw = await self.client.get(self.keys.token_hash(digest))
        if raw is None:
            return None
        record = codec.unpack(raw)
        record.pop("hash")  # kept in the record for revoking by name
        return TokenInfo.model_validate(record)

    async def revoke_token(self, name: str) -> bool:
        """Delete a token; True if it existed. Effective at once: every request looks the token up."""
        prefix = self.keys.token_hash("")
        return bool(await self.run_write(self._revoke_token, [self.keys.tokens()], [name, prefix]))

    async def list_tokens(self) -> list[TokenInfo]:
        with _guard():
            raw = await self.client.hvals(self.keys.tokens())
        out = []
        for item in raw:
            record = codec.unpack(item)
            record.pop("hash", None)
            out.append(TokenInfo.model_validate(record))
        return sorted(out, key=lambda t: t.name)

    # --- events and sessions ----------------------------------------------------------------------

    async def create_event(self, event: Event) -> None:
        """Raises Conflict when the id is taken."""
        record = codec.pack(event.model_dump(mode="json", exclude={"days"}))  # days are derived
        done = await self.run_write(self._create_event, [self.keys.events()], [event.id, record])
        if not done:
            raise Conflict(f"event {event.id!r} exists", field="id")

    async def get_event(self, event_id: str) -> Event:
        """Raises NotFound for an unknown event."""
        with _guard():
            raw = await self.client.hget(self.keys.events(), event_id)
        if raw is None:
            raise NotFound(f"no event {event_id!r}")
        return Event.model_validate(codec.unpack(raw))

    async def list_events(self) -> list[Event]:
        with _guard():
            raw = await self.client.hvals(self.keys.events())
        events = [Event.model_validate(codec.unpack(r)) for r in raw]
        return sorted(events, key=lambda e: (e.starts_on, e.id))

    async def put_session(self, session: Session) -> tuple[Entry, bool]:
        """Create or replace a session and broadcast it as a ``session`` entry; True when it is new."""
        data = session.model_dump(mode="json")
        payload = codec.pack(data)
        ev = session.event
        _ok, seq, created = await self.run_write(
            self._append,
            [self.keys.log(ev), self.keys.channel(ev), self.keys.sessions(ev)],
            ["session", payload, self.log_max_entries, session.id],
        )
        return Entry(seq.decode(), "session", data), bool(created)

    async def delete_session(self, event_id: str, session_id: str) -> Entry:
        """Delete a session and broadcast ``{"id", "event", "deleted": true}`` as a ``session`` entry.

        Raises:
            NotFound: no such session.
            Conflict: live updates still belong to the session (move or delete them first).
        """
        data = {"id": session_id, "event": event_id, "deleted": True}
        k = self.keys
        result = await self.run_write(
            self._delete_session,
            [k.log(event_id), k.channel(event_id), k.sessions(event_id), k.index_session(event_id, session_id)],
            [session_id, codec.pack(data), self.log_max_entries],
        )
        if result[0] == b"gone":
            raise NotFound(f"no session {session_id!r} in event {event_id!r}")
        if result[0] == b"used":
            raise Conflict(f"{int(result[1])} updates belong to session {session_id!r}; move or delete them first",
                           field="session")  # fmt: skip
        return Entry(result[1].decode(), "session", data)

    async def get_session(self, event_id: str, session_id: str) -> Session | None:
        with _guard():
            raw = await self.client.hget(self.keys.sessions(event_id), session_id)
        return None if raw is None else Session.model_validate(codec.unpack(raw))

    async def list_sessions(self, event_id: str, day: dt.date | None = None) -> list[Session]:
        """Sessions in start order, optionally only those of one day."""
        with _guard():
            raw = await self.client.hvals(self.keys.sessions(event_id))
        sessions = [Session.model_validate(codec.unpack(r)) for r in raw]
        if day is not None:
            sessions = [s for s in sessions if s.day == day]
        return sorted(sessions, key=lambda s: (s.starts_at, s.id))

    async def append(self, event_id: str, kind: str, data: Mapping[str, Any]) -> Entry:
        """Append a plain entry to the log and publish it, atomically (tests fill a log with it; the app's
        writes have their own scripts)."""
        _ok, seq, _ = await self.run_write(
            self._append,
            [self.keys.log(event_id), self.keys.channel(event_id), ""],
            [kind, codec.pack(data), self.log_max_entries, ""],
        )
        return Entry(seq.decode(), kind, dict(data))

    # --- updates ----------------------------------------------------------------------------------

    async def create_update(
        self,
        event_id: str,
        record: Mapping[str, Any],
        *,
        day: dt.date,
        idempotency: tuple[str, str, str] | None = None,
    ) -> Created:
        """Append a new update (its record has no seq yet) and publish it, in one atomic step.

        ``idempotency`` is (actor, key, body fingerprint). A repeated key within the retention time returns
        the first answer and adds nothing; a repeated key with another fingerprint raises Invalid (422).
        """
        update_id = str(record["id"])
        session = record.get("session")
        payload = codec.pack(record)
        idem_key = self.keys.idempotency(event_id, *idempotency[:2]) if idempotency else ""
        keys = [
            self.keys.log(event_id),
            self.keys.channel(event_id),
            idem_key,
            self.keys.update(event_id, update_id),
            self.keys.index_all(event_id),
            self.keys.index_day(event_id, day),
            self.keys.index_session(event_id, session) if session else "",
            self.keys.pinned(event_id),
        ]
        fingerprint = idempotency[2] if idempotency else ""
        args = [payload, update_id, fingerprint, self.idempotency_seconds, self.log_max_entries,
                "1" if record.get("pinned") else "0"]  # fmt: skip
        result = await self.run_write(self._create, keys, args)
        if result[0] == b"dup":
            if result[1].decode() != fingerprint:
                raise Invalid("Idempotency-Key: already used with a different body", field="Idempotency-Key")
            seq = result[2].decode()
            first = await self._entry_at(event_id, seq)
            if first is None:  # trimmed from the log: answer with the current state
                current = await self.get_update(event_id, result[3].decode())
                if current is None:
                    raise NotFound("the update created with this Idempotency-Key has been deleted")
                return Created(current, False)
            return Created(dict(first.data), False)
        seq = result[1].decode()
        return Created({**record, "seq": seq}, True, result[2].decode() or None)

    async def _entry_at(self, event_id: str, seq: str) -> Entry | None:
        with _guard():
            rows = await self.client.xrange(self.keys.log(event_id), min=seq, max=seq)
        if not rows:
            return None
        entry_id, fields = rows[0]
        msg = codec.entry_to_message(entry_id.decode(), fields[b"t"].decode(), fields[b"d"])
        return Entry(msg["seq"], msg["type"], msg["data"])

    async def get_update(self, event_id: str, update_id: str) -> dict[str, Any] | None:
        """The current state of an update, or None when unknown or deleted."""
        with _guard():
            fields = await self.client.hgetall(self.keys.update(event_id, update_id))
        return _decode_record(fields) if fields else None

    async def pinned_id(self, event_id: str) -> str | None:
        with _guard():
            raw = await self.client.get(self.keys.pinned(event_id))
        return None if raw is None else raw.decode()

    async def edit_update(
        self,
        event_id: str,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        *,
        old_day: dt.date,
        new_day: dt.date,
    ) -> tuple[Entry, str | None]:
        """Replace an update's state with ``new`` (version already bumped) and publish an ``edit`` entry.
        Returns the entry and, when this edit pins the update, the id of the update pinned before it.

        Raises:
            NotFound: the update was deleted meanwhile.
            Conflict: its version changed since ``old`` was read.
        """
        update_id = str(old["id"])
        k = self.keys
        old_session, new_session = old.get("session"), new.get("session")
        keys = [
            k.log(event_id), k.channel(event_id), k.update(event_id, update_id),
            k.index_day(event_id, old_day), k.index_session(event_id, old_session) if old_session else "",
            k.index_day(event_id, new_day), k.index_session(event_id, new_session) if new_session else "",
            k.index_all(event_id), k.pinned(event_id),
        ]  # fmt: skip
        args = [codec.pack(new), str(old["version"]), str(new["version"]), self.log_max_entries, update_id,
                "1" if new.get("pinned") else "0"]  # fmt: skip
        result = await self.run_write(self._edit, keys, args)
        if result[0] == b"gone":
            raise NotFound(f"no update {update_id!r}")
        if result[0] == b"stale":
            raise Conflict(f"update {update_id!r} changed meanwhile (now version {result[1].decode()})",
                           field="version")  # fmt: skip
        return Entry(result[1].decode(), "edit", dict(new)), result[2].decode() or None

    async def delete_update(self, event_id: str, old: Mapping[str, Any], *, day: dt.date) -> Entry:
        """Hide an update from reads and publish a ``delete`` entry; the log keeps the original.

        Raises:
            NotFound: it was deleted meanwhile.
            Conflict: it changed since ``old`` was read (its indexes may have moved): read it again.
        """
        update_id = str(old["id"])
        k = self.keys
        session = old.get("session")
        keys = [
            k.log(event_id),
            k.channel(event_id),
            k.update(event_id, update_id),
            k.index_day(event_id, day),
            k.index_session(event_id, session) if session else "",
            k.index_all(event_id),
            k.pinned(event_id),
        ]
        data = {"id": update_id}
        args = [codec.pack(data), self.log_max_entries, update_id, str(old["version"])]
        result = await self.run_write(self._delete, keys, args)
        if result[0] == b"gone":
            raise NotFound(f"no update {update_id!r}")
        if result[0] == b"stale":
            raise Conflict(f"update {update_id!r} changed meanwhile", field="version")
        return Entry(result[1].decode(), "delete", data)

    async def list_updates(
        self,
        event_id: str,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int = 50,
        session: str | None = None,
        day: dt.date | None = None,
    ) -> tuple[list[dict[str, Any]], str | None, str | None]:
        """Live updates in creation order, newest last, with (next, prev) cursors.

        With ``after``: the first ``limit`` updates after it; ``next`` is set when more follow.
        Otherwise: the last ``limit`` updates before ``before`` (or the end); ``prev`` is set when older exist.
        """
        k = self.keys
        if day:
            index = k.index_day(event_id, day)
        elif session:
            index = k.index_session(event_id, session)
        else:
            index = k.index_all(event_id)
        wanted = session if session and day else None  # both: scan the day's index, keep the session's
        ascending = after is not None
        low = "(" + pad_seq(after) + "|~" if after else "-"
        high = "(" + pad_seq(before) + "|" if before else "+"
        found: list[dict[str, Any]] = []
        with _guard():
            while len(found) <= limit:
                chunk = limit + 1 - len(found) if wanted is None else max(4 * limit, 100)
                if ascending:
                    members = await self.client.zrange(index, low, high, bylex=True, offset=0, num=chunk)
                else:
                    members = await self.client.zrange(index, high, low, desc=True, bylex=True, offset=0, num=chunk)
                if not members:
                    break
                async with self.client.pipeline(transaction=False) as pipe:
                    for member in members:
                        pipe.hgetall(k.update(event_id, member.decode().partition("|")[2]))
                    rows = await pipe.execute()
                records = [_decode_record(r) for r in rows if r]
                found += [r for r in records if wanted is None or r.get("session") == wanted]
                if len(members) < chunk:
                    break
                if ascending:
                    low = "(" + members[-1].decode()
                else:
                    high = "(" + members[-1].decode()
        more = len(found) > limit
        found = found[:limit]
        if not ascending:
            found.reverse()
        nxt = found[-1]["seq"] if more and ascending and found else None
        prev = found[0]["seq"] if more and not ascending and found else None
        return found, nxt, prev

    # --- the log ----------------------------------------------------------------------------------

    async def read_after(self, event: str, after: str | None, *, limit: int = 500) -> list[Entry]:
        """Entries after ``after`` in seq order (from the oldest retained when None).

        Raises:
            SeqExpired: ``after`` is older than the oldest retained entry.
        """
        key = self.keys.log(event)
        with _guard():
            if after is None:
                rows = await self.client.xrange(key, min="-", count=limit)
            else:  # the page and the stream's trim state in one round trip
                async with self.client.pipeline(transaction=False) as pipe:
                    pipe.xrange(key, min="(" + after, count=limit)
                    pipe.xinfo_stream(key)
                    rows, info = await pipe.execute(raise_on_error=False)
                if isinstance(rows, Exception):
                    raise rows
                if _trimmed_after(info, after):
                    raise SeqExpired(after)
        out = []
        for entry_id, fields in rows:
            msg = codec.entry_to_message(entry_id.decode(), fields[b"t"].decode(), fields[b"d"])
            out.append(Entry(msg["seq"], msg["type"], msg["data"]))
        return out

    async def iter_log(self, event: str, *, batch: int = 1000) -> AsyncIterator[Entry]:
        """Every retained entry of the event's log, oldest first (used by the reflections worker)."""
        after: str | None = None
        while True:
            entries = await self.read_after(event, after, limit=batch)
            for entry in entries:
                yield entry
            if len(entries) < batch:
                return
            after = entries[-1].seq

    async def last_seq(self, event: str) -> str | None:
        with _guard():
            rows = await self.client.xrevrange(self.keys.log(event), count=1)
        return rows[0][0].decode() if rows else None

    # --- live delivery (hub, reader counts) ---------------------------------------------------------

    async def open_pubsub(self) -> PubSub:
        """A new dedicated pub/sub connection (see PubSub); raises StoreUnavailable when none can be opened."""
        pool = self.client.connection_pool
        connection = pool.connection_class(**{**pool.connection_kwargs, "health_check_interval": 0})
        with _guard():
            await connection.connect()
        return PubSub(connection)

    async def put_reader_counts(self, process: str, counts: Mapping[str, int], ttl_seconds: int) -> None:
        """Record this process's live reader count per event (0 removes the field) and keep it alive for
        ``ttl_seconds``; counts of a process that stops refreshing stop counting when its key expires."""
        with _guard():
            async with self.client.pipeline(transaction=False) as pipe:
                for event, count in counts.items():
                    if count > 0:
                        pipe.hset(self.keys.readers(event), process, count)
                    else:
                        pipe.hdel(self.keys.readers(event), process)
                pipe.set(self.keys.alive(process), 1, ex=ttl_seconds)
                await pipe.execute()

    async def drop_reader_counts(self, process: str, events: Sequence[str]) -> None:
        """Remove this process's counts at once (clean shutdown)."""
        with _guard():
            async with self.client.pipeline(transaction=False) as pipe:
                for event in events:
                    pipe.hdel(self.keys.readers(event), process)
                pipe.delete(self.keys.alive(process))
                await pipe.execute()

    async def reader_counts(self, event: str) -> dict[str, int]:
        """Live reader count of each process still alive, by process id; fields of expired processes are
        removed on the way."""
        key = self.keys.readers(event)
        with _guard():
            raw = await self.client.hgetall(key)
            processes = [field.decode() for field in raw]
            if not processes:
                return {}
            alive = await self.client.mget([self.keys.alive(p) for p in processes])
            dead = [p for p, flag in zip(processes, alive, strict=True) if flag is None]
            if dead:
                await self.client.hdel(key, *dead)
        return {p: int(raw[p.encode()]) for p, flag in zip(processes, alive, strict=True) if flag is not None}


__all__ = ["LOG_LUA", "Created", "Durability", "RedisStore"]


@dataclass(frozen=True, slots=True)
class PubSubReply:
    """One reply on a pub/sub connection: kind is message, subscribe, unsubscribe or pong."""

    kind: str
    channel: str
    data: bytes


class PubSub:
    """One dedicated pub/sub connection that never reconnects by itself: after any failure it stays broken
    (every call raises StoreUnavailable) and its owner opens a new one, so a drop is never silent."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._broken = False

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
        """Send SUBSCRIBE; each channel's confirmation arrives later through read(), in command order."""
        await self._send("SUBSCRIBE", *channels)

    async def unsubscribe(self, *channels: str) -> None:
        await self._send("UNSUBSCRIBE", *channels)

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
