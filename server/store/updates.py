"""Updates: their records, the indexes that list them, the pin, and the scripts that post, edit and delete them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from server import codec
from server.errors import Conflict, Invalid, NotFound
from server.render import with_html
from server.store.durability import guard
from server.store.log import Entry, LogStore, Seq, pad_seq

__all__ = ["Created", "UpdateStore"]

_PIN_ATTEMPTS = 20  # a pinning write retried after another moved the pin: each retry means another one won


@dataclass(frozen=True, slots=True)
class Created:
    """Result of a create: the stored record and whether this call created it (False: idempotent replay)."""

    record: dict[str, Any]
    created: bool


def _decode_record(fields: Mapping[bytes, bytes]) -> dict[str, Any]:
    record = codec.unpack(fields[b"d"])
    record["seq"] = fields[b"seq"].decode()
    record["version"] = int(fields[b"v"])
    return with_html(record)  # written before html was stored with the record


class UpdateStore(LogStore):
    """Updates of every event. Each write is one script: log entry, record, indexes, pin and publish."""

    async def _pin_args(self, event_id: str, update_id: str, pinning: bool) -> tuple[str, list[str | bytes]]:
        """What a pinning script needs to unpin the update pinned now: its key (or the absent key) and the ARGV
        tail (pinned id seen, its version, its unpinned version and record); the script checks nothing moved."""
        if not pinning:
            return self.keys.absent(event_id), ["", "", "", ""]
        seen = await self.pinned_id(event_id) or ""
        old = await self.get_update(event_id, seen) if seen and seen != update_id else None
        if old is None:
            return self.keys.absent(event_id), [seen, "", "", ""]
        unpinned = {**old, "pinned": False, "version": int(old["version"]) + 1}
        return self.keys.update(event_id, seen), [seen, str(old["version"]), str(unpinned["version"]),
                                                  codec.pack(unpinned)]  # fmt: skip

    async def create_update(
        self,
        event_id: str,
        record: Mapping[str, Any],
        *,
        day: dt.date,
        owner: str = "",
        idempotency: tuple[str, str, str] | None = None,
    ) -> Created:
        """Append a new update (its record has no seq yet) and publish it, in one atomic step; a pinned one
        unpins the update pinned before it in the same step.

        ``owner`` is the id of the token that posts it (see update_owner); it is stored beside the record,
        never in it, so readers do not see it. ``idempotency`` is (actor id, key, body fingerprint). A repeated
        key within the retention time returns the first answer and adds nothing; a repeated key with another
        fingerprint raises Invalid (422).
        """
        update_id = str(record["id"])
        session = record.get("session")
        k = self.keys
        none = k.absent(event_id)
        idem_key = k.idempotency(event_id, *idempotency[:2]) if idempotency else none
        fingerprint = idempotency[2] if idempotency else ""
        pinning = bool(record.get("pinned"))
        for _attempt in range(_PIN_ATTEMPTS):
            prev_key, pin_args = await self._pin_args(event_id, update_id, pinning)
            keys = [
                k.log(event_id), k.channel(event_id), idem_key, k.update(event_id, update_id),
                k.updates_by_seq(event_id), k.updates_of_day(event_id, day),
                k.updates_of_session(event_id, session) if session else none, k.pinned(event_id), prev_key,
            ]  # fmt: skip
            args = [codec.pack(record), update_id, fingerprint, self.idempotency_seconds, self.log_max_entries,
                    "1" if pinning else "0", *pin_args, owner]  # fmt: skip
            result = await self.run_write(self.script("create_update"), keys, args)
            if result[0] != b"pin-moved":
                break
        else:
            raise Conflict("the pin keeps moving; try again", field="pinned")
        if result[0] == b"dup":
            if result[1].decode() != fingerprint:
                raise Invalid("Idempotency-Key: already used with a different body", field="Idempotency-Key")
            return await self._replay(event_id, result[2].decode(), result[3].decode())
        return Created({**record, "seq": result[1].decode()}, True)

    async def _replay(self, event_id: str, seq: str, update_id: str) -> Created:
        """The first answer to a repeated Idempotency-Key: the update as created, from the log."""
        first = await self.entry_at(event_id, seq)
        if first is not None:
            return Created(dict(first.data), False)
        current = await self.get_update(event_id, update_id)  # trimmed from the log: the current state
        if current is None:
            raise NotFound("the update created with this Idempotency-Key has been deleted")
        return Created(current, False)

    async def get_update(self, event_id: str, update_id: str) -> dict[str, Any] | None:
        """The current state of an update, or None when unknown or deleted."""
        with guard():
            fields = await self.client.hgetall(self.keys.update(event_id, update_id))
        return _decode_record(fields) if fields else None

    async def update_owner(self, event_id: str, update_id: str) -> str | None:
        """The id of the token that posted the update, or None when unknown or deleted."""
        with guard():
            raw = await self.client.hget(self.keys.update(event_id, update_id), "owner")
        return None if raw is None else raw.decode()

    async def pinned_id(self, event_id: str) -> str | None:
        """The id of the event's pinned update, or None."""
        with guard():
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
    ) -> Entry:
        """Replace an update's state with ``new`` (version already bumped) and publish an ``edit`` entry; when
        this edit pins the update, the update pinned before it is unpinned in the same step.

        Raises:
            NotFound: the update was deleted meanwhile.
            Conflict: its version changed since ``old`` was read.
        """
        update_id = str(old["id"])
        k = self.keys
        old_session, new_session = old.get("session"), new.get("session")
        pinning = bool(new.get("pinned"))
        for _attempt in range(_PIN_ATTEMPTS):
            prev_key, pin_args = await self._pin_args(event_id, update_id, pinning)
            keys = [
                k.log(event_id), k.channel(event_id), k.update(event_id, update_id),
                k.updates_of_day(event_id, old_day),
                k.updates_of_session(event_id, old_session) if old_session else k.absent(event_id),
                k.updates_of_day(event_id, new_day),
                k.updates_of_session(event_id, new_session) if new_session else k.absent(event_id),
                k.updates_by_seq(event_id), k.pinned(event_id), prev_key,
            ]  # fmt: skip
            args = [codec.pack(new), str(old["version"]), str(new["version"]), self.log_max_entries, update_id,
                    "1" if pinning else "0", *pin_args]  # fmt: skip
            result = await self.run_write(self.script("edit_update"), keys, args)
            if result[0] != b"pin-moved":
                break
        else:
            raise Conflict("the pin keeps moving; try again", field="pinned")
        if result[0] == b"gone":
            raise NotFound(f"no update {update_id!r}")
        if result[0] == b"stale":
            raise Conflict(f"update {update_id!r} changed meanwhile (now version {result[1].decode()})",
                           field="version")  # fmt: skip
        return Entry(Seq(result[1].decode()), "edit", dict(new))

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
            k.updates_of_day(event_id, day),
            k.updates_of_session(event_id, session) if session else k.absent(event_id),
            k.updates_by_seq(event_id),
            k.pinned(event_id),
        ]
        data = {"id": update_id}
        args = [codec.pack(data), self.log_max_entries, update_id, str(old["version"])]
        result = await self.run_write(self.script("delete_update"), keys, args)
        if result[0] == b"gone":
            raise NotFound(f"no update {update_id!r}")
        if result[0] == b"stale":
            raise Conflict(f"update {update_id!r} changed meanwhile", field="version")
        return Entry(Seq(result[1].decode()), "delete", data)

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
            index = k.updates_of_day(event_id, day)
        elif session:
            index = k.updates_of_session(event_id, session)
        else:
            index = k.updates_by_seq(event_id)
        wanted = session if session and day else None  # both: scan the day's index, keep the session's
        ascending = after is not None
        low = "(" + pad_seq(after) + "|~" if after else "-"
        high = "(" + pad_seq(before) + "|" if before else "+"
        found: list[dict[str, Any]] = []
        with guard():
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
