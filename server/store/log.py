"""An event's log: one stream whose entry ids are the seqs; appends (with their publish), reads after a seq, trims."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, NewType

from redis.exceptions import ResponseError

from server import codec
from server.errors import SeqExpired
from server.render import with_html
from server.store.durability import DurableStore, guard

__all__ = ["Entry", "LogStore", "Seq", "pad_seq"]

Seq = NewType("Seq", str)
"""A position in an event's log: the stream entry id ``<ms>-<n>``; clients treat it as opaque."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of an event's log: its seq (stream id), type and decoded data."""

    seq: Seq
    type: str
    data: Mapping[str, Any]


def pad_seq(seq: str) -> str:
    """Fixed-width form of a seq, so that lexicographic order is log order (matches lua/member.lua)."""
    ms, _, n = seq.partition("-")
    return f"{int(ms):015d}-{int(n or 0):010d}"


def _entry(entry_id: bytes, fields: Mapping[bytes, bytes]) -> Entry:
    msg = codec.entry_to_message(entry_id.decode(), fields[b"t"].decode(), fields[b"d"])
    if msg["type"] in ("update", "edit"):
        with_html(msg["data"])  # written before html was stored with the record
    return Entry(Seq(msg["seq"]), msg["type"], msg["data"])


def _trimmed_after(info: Any, after: str) -> bool:
    """True when entries newer than ``after`` may have been trimmed from the stream (so they are lost), given
    the stream's XINFO STREAM answer (an error when there is no stream: nothing was ever trimmed).

    The log is only ever trimmed from its start (XADD MAXLEN, never XDEL), so entries were lost exactly when some
    were trimmed at all and the oldest one left is newer than ``after``.
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


class LogStore(DurableStore):
    """Reads and plain appends of the event logs (the aggregates' own scripts append their entries)."""

    async def append(self, event_id: str, kind: str, data: Mapping[str, Any]) -> Entry:
        """Append a plain entry to the log and publish it, atomically (tests fill a log with it; the app's
        writes have their own scripts)."""
        _ok, seq, _ = await self.run_write(
            self.script("append"),
            [self.keys.log(event_id), self.keys.channel(event_id), self.keys.absent(event_id)],
            [kind, codec.pack(data), self.log_max_entries, ""],
        )
        return Entry(Seq(seq.decode()), kind, dict(data))

    async def read_after(self, event: str, after: str | None, *, limit: int = 500) -> list[Entry]:
        """Entries after ``after`` in seq order (from the oldest retained when None).

        Raises:
            SeqExpired: ``after`` is older than the oldest retained entry.
        """
        key = self.keys.log(event)
        with guard():
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
        return [_entry(entry_id, fields) for entry_id, fields in rows]

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

    async def entry_at(self, event_id: str, seq: str) -> Entry | None:
        """The entry at ``seq``, or None once trimmed."""
        with guard():
            rows = await self.client.xrange(self.keys.log(event_id), min=seq, max=seq)
        return _entry(*rows[0]) if rows else None

    async def last_seq(self, event: str) -> Seq | None:
        """The seq of the log's newest entry, or None for an empty log."""
        with guard():
            rows = await self.client.xrevrange(self.keys.log(event), count=1)
        return Seq(rows[0][0].decode()) if rows else None
