"""Every Redis key and channel name, one function per key.

Every key of one event carries the hash tag ``{<event>}``, so each of the event's scripts touches one slot of a
Redis Cluster; the global records (tokens, events, live processes) each have a tag of their own, so no operation
spans slots either.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["Keys"]


class Keys:
    """Every key and channel under one prefix, so deployments and tests can share a server."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    # --- global records, each under its own tag ------------------------------------------------------

    def tokens(self) -> str:
        """Hash: token name -> msgpack TokenInfo plus the token's SHA-256."""
        return f"{self.prefix}:{{tokens}}:by-name"

    def token_by_digest(self, digest: str) -> str:
        """String: SHA-256 of a token -> the same record as in tokens() (one read authenticates). Same slot as
        tokens(), so creating and revoking a token is one script."""
        return f"{self.prefix}:{{tokens}}:by-digest:{digest}"

    def revoked_settings(self) -> str:
        """Set: SHA-256 of admin tokens given by the ``admin_token`` setting and revoked since; the setting
        still holds them, so every process checks this set."""
        return f"{self.prefix}:{{tokens}}:revoked-settings"

    def token_audit(self) -> str:
        """Stream: every token creation and revocation (fields who, what, name, role, at), capped in length;
        same slot as tokens(), so the scripts that change a token also record it."""
        return f"{self.prefix}:{{tokens}}:audit"

    def events(self) -> str:
        """Hash: event id -> msgpack Event."""
        return f"{self.prefix}:{{events}}"

    def process_alive(self, process: str) -> str:
        """String with a time-out: the server process is alive (its reader counts still count). Every
        process's key shares one slot, so one MGET reads them all."""
        return f"{self.prefix}:{{processes}}:alive:{process}"

    # --- one event's keys: tag {event} ---------------------------------------------------------------

    def _event(self, event: str) -> str:
        return f"{self.prefix}:ev:{{{event}}}"

    def log(self, event: str) -> str:
        """Stream: the event's append-only log; entry ids are the seqs; fields t (type) and d (msgpack)."""
        return f"{self._event(event)}:log"

    def absent(self, event: str) -> str:
        """Never written: stands for an optional key a script is not given (lua/log.lua's ``given``); in the
        event's slot, where an empty name would hash elsewhere in a Redis Cluster."""
        return f"{self.log(event)}:none"

    def channel(self, event: str) -> str:
        """Pub/sub channel (a shard channel in a Redis Cluster): every log entry of the event, published by the
        script that appended it."""
        return f"{self._event(event)}:feed"

    def sessions(self, event: str) -> str:
        """Hash: session id -> msgpack Session."""
        return f"{self._event(event)}:sessions"

    def update(self, event: str, update_id: str) -> str:
        """Hash: current state of one update: seq (creation), v (version), d (msgpack record)."""
        return f"{self._event(event)}:update:{update_id}"

    def updates_by_seq(self, event: str) -> str:
        """Sorted set (lex): every live update of the event, by creation seq."""
        return f"{self._event(event)}:updates"

    def updates_of_day(self, event: str, day: dt.date | str) -> str:
        """Sorted set (lex): live updates that happened on ``day`` in the event's time zone."""
        return f"{self._event(event)}:updates-of-day:{day}"

    def updates_of_session(self, event: str, session: str) -> str:
        """Sorted set (lex): live updates of one session."""
        return f"{self._event(event)}:updates-of-session:{session}"

    def pinned(self, event: str) -> str:
        """String: id of the event's pinned update."""
        return f"{self._event(event)}:pinned"

    def idempotency(self, event: str, actor: str, key: str) -> str:
        """Hash with a TTL: fp (body fingerprint), seq and id of the first answer to an Idempotency-Key."""
        return f"{self._event(event)}:idempotency:{actor}:{key}"

    def reflections(self, event: str, day: dt.date | str) -> str:
        """Hash: the day's reflections post (draft or published)."""
        return f"{self._event(event)}:reflections:{day}"

    def readers(self, event: str) -> str:
        """Hash: process id -> live reader count, each field refreshed by its process."""
        return f"{self._event(event)}:readers"
