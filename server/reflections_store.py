"""The day's reflections post in Redis: the editors' working copy and the published snapshot."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from server import codec
from server.errors import Conflict, NotFound
from server.store import Entry, Store, guard

# A post is one hash. Working copy: title, markdown, html, jsonld, sources, authors, merged, dropped (what the
# last compile folded or left out), version, edited
# ("1" once an editor saved it), status (draft|published), compiled_at, edited_at; compiling holds the id
# of a queued compile. Published snapshot: pub_title, pub_html, pub_jsonld, published_at.


def _text(fields: Mapping[bytes, bytes], name: str) -> str | None:
    raw = fields.get(name.encode())
    return None if raw is None else raw.decode()


def post_path(event: str, day: dt.date) -> str:
    """Where a day's published reflections post is read."""
    return f"/events/{event}/days/{day.isoformat()}/reflections"


class Reflections:
    """Drafts and published posts, one per event day, stored through the Store's connection."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._request = store.script("reflections_request")
        self._save = store.script("reflections_save")
        self._edit = store.script("reflections_edit")
        self._publish = store.script("reflections_publish")
        self._abandon = store.script("reflections_abandon")

    def _key(self, event: str, day: dt.date) -> str:
        return self.store.keys.reflections(event, day)

    async def request_compile(self, event: str, day: dt.date, job: str, *, replace: bool) -> None:
        """Mark a compile as queued.

        Raises:
            Conflict: an editor has edited the draft and ``replace`` is false.
        """
        result = await self.store.run_write(self._request, [self._key(event, day)], ["1" if replace else "0", job])
        if result == b"edited":
            raise Conflict("an editor has edited this draft; send {\"replace\": true} to recompile over it",
                           field="replace")  # fmt: skip

    async def save_compiled(self, event: str, day: dt.date, fields: Mapping[str, str], *, replace: bool) -> bool:
        """Store a compiled draft; False (and nothing stored) when an editor edited it meanwhile."""
        args: list[str] = ["1" if replace else "0"]
        for name, value in fields.items():
            args += [name, value]
        result = await self.store.run_write(self._save, [self._key(event, day)], args)
        return bool(result != b"edited")

    async def abandon(self, event: str, day: dt.date, job: str) -> None:
        await self.store.run_write(self._abandon, [self._key(event, day)], [job])

    async def get(self, event: str, day: dt.date) -> dict[str, Any] | None:
        """The post as the API shows it to editors, or None before the first compile."""
        with guard():
            fields = await self.store.client.hgetall(self._key(event, day))
        if not fields:
            return None
        status = "compiling" if fields.get(b"compiling") else _text(fields, "status")
        post: dict[str, Any] = {
            "status": status,
            "version": int(fields.get(b"version", b"0")),
            "title": _text(fields, "title"),
            "markdown": _text(fields, "markdown"),
            "html": _text(fields, "html"),
            "jsonld": json.loads(fields[b"jsonld"]) if b"jsonld" in fields else None,
            "sources": json.loads(fields[b"sources"]) if b"sources" in fields else {},
            "authors": json.loads(fields[b"authors"]) if b"authors" in fields else [],
            "merged": json.loads(fields[b"merged"]) if b"merged" in fields else [],
            "dropped": json.loads(fields[b"dropped"]) if b"dropped" in fields else [],
            "edited": fields.get(b"edited") == b"1",
            "compiled_at": _text(fields, "compiled_at"),
            "published_at": _text(fields, "published_at"),
        }
        return post

    async def published_titles(self, event: str, days: Sequence[dt.date]) -> dict[dt.date, str]:
        """The title of each of ``days`` whose post is published (one round trip, no post bodies)."""
        async with self.store.client.pipeline(transaction=False) as pipe:
            for day in days:
                pipe.hget(self._key(event, day), "pub_title")
            with guard():
                titles = await pipe.execute()
        return {day: title.decode() for day, title in zip(days, titles, strict=True) if title is not None}

    async def published(self, event: str, day: dt.date) -> dict[str, Any] | None:
        """The published snapshot (title, html, jsonld, published_at), or None before publishing."""
        with guard():
            fields = await self.store.client.hgetall(self._key(event, day))
        if b"pub_html" not in fields:
            return None
        return {
            "title": _text(fields, "pub_title"),
            "html": _text(fields, "pub_html"),
            "jsonld": json.loads(fields[b"pub_jsonld"]),
            "published_at": _text(fields, "published_at"),
        }

    async def edit(self, event: str, day: dt.date, version: int, fields: Mapping[str, str]) -> int:
        """Save an editor's version; returns the new version.

        Raises:
            NotFound: nothing compiled yet.
            Conflict: ``version`` is stale (another editor saved first).
        """
        args: list[str] = [str(version)]
        for name, value in fields.items():
            args += [name, value]
        result = await self.store.run_write(self._edit, [self._key(event, day)], args)
        if result[0] == b"gone":
            raise NotFound(f"no reflections for {day} yet; compile them first")
        if result[0] == b"stale":
            raise Conflict(f"version {version} is stale: the draft is at version {int(result[1])}; reload it",
                           field="version")  # fmt: skip
        return int(result[1])

    async def publish(self, event: str, day: dt.date, summary: Mapping[str, Any]) -> Entry:
        """Publish the working copy and broadcast a ``reflections`` message on the live feed, in one step."""
        now = codec.utc_text(dt.datetime.now(dt.UTC))
        data = {**summary, "published_at": now}
        keys = [self._key(event, day), self.store.keys.log(event), self.store.keys.channel(event)]
        result = await self.store.run_write(self._publish, keys, [now, codec.pack(data), self.store.log_max_entries])
        if result[0] == b"gone":
            raise NotFound(f"no reflections for {day} to publish; compile them first")
        return Entry(result[1].decode(), "reflections", data)
