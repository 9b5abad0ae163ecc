"""Log entries and every Redis key name (one function per key), shared by the store and its readers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Entry", "Keys", "pad_seq"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of an event's log: its seq (stream id), type and decoded data."""

    seq: str
    type: str
    data: Mapping[str, Any]


def pad_seq(seq: str) -> str:
    """Fixed-width form of a seq, so that lexicographic order is log order (matches the Lua scripts)."""
    ms, _, n = seq.partition("-")
    return f"{int(ms):015d}-{int(n or 0):010d}"


class Keys:
    """Every Redis key and channel name, under one prefix so deployments and tests can share a server."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def tokens(self) -> str:
        """Hash: token name -> msgpack TokenInfo plus the token's SHA-256."""
        return f"{self.prefix}:tokens"

    def token_hash(self, digest: str) -> str:
        """String: SHA-256 of a token -> the same record as in tokens() (one read authenticates)."""
        return f"{self.prefix}:token:{digest}"

    def events(self) -> str:
        """Hash: event id -> msgpack Event."""
        return f"{self.prefix}:events"

    def log(self, event: str) -> str:
        """Stream: the event's append-only log; entry ids are the seqs; fields t (type) and d (msgpack)."""
        return f"{self.prefix}:ev:{event}:log"

    def channel(self, event: str) -> str:
        """Pub/sub channel: every log entry of the event, published by the script that appended it."""
        return f"{self.prefix}:ch:{event}"

    def sessions(self, event: str) -> str:
        """Hash: session id -> msgpack Session."""
        return f"{self.prefix}:ev:{event}:sessions"

    def update(self, event: str, update_id: str) -> str:
        """Hash: current state of one update: seq (creation), v (version), d (msgpack record)."""
        return f"{self.prefix}:ev:{event}:u:{update_id}"

    def index_all(self, event: str) -> str:
        """Sorted set (lex): every live update of the event, by creation seq."""
        return f"{self.prefix}:ev:{event}:idx"

    def index_day(self, event: str, day: dt.date | str) -> str:
        """Sorted set (lex): live updates that happened on ``day`` in the event's time zone."""
        return f"{self.prefix}:ev:{event}:day:{day}"

    def index_session(self, event: str, session: str) -> str:
        """Sorted set (lex): live updates of one session."""
        return f"{self.prefix}:ev:{event}:ses:{session}"

    def pinned(self, event: str) -> str:
        """String: id of the event's pinned update."""
        return f"{self.prefix}:ev:{event}:pinned"

    def idempotency(self, event: str, actor: str, key: str) -> str:
        """Hash with a TTL: fp (body fingerprint), seq and id of the first answer to an Idempotency-Key."""
        return f"{self.prefix}:idem:{event}:{actor}:{key}"

    def reflections(self, event: str, day: dt.date | str) -> str:
        """Hash: the day's reflections post (draft or published)."""
        return f"{self.prefix}:ev:{event}:refl:{day}"

    def readers(self, event: str) -> str:
        """Hash: process id -> live reader count, each field refreshed by its process."""
        return f"{self.prefix}:ev:{event}:readers"

    def alive(self, process: str) -> str:
        """String with a time-out: the server process is alive (its reader counts still count)."""
        return f"{self.prefix}:proc:{process}:alive"
