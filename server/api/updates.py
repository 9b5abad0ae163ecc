"""Updates: post (idempotent, durable), list, read, edit and delete."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from server import codec, metrics
from server.api import Routes
from server.appkeys import STORE
from server.auth import Actor, require
from server.errors import Conflict, Forbidden, Invalid, NotFound
from server.middleware import read_body, validation_problem
from server.models import Event, Role, Update, UpdateCreate, UpdateList, UpdatePatch
from server.params import parse_day, parse_seq, parse_session, slug
from server.render import render_inline
from server.store import Store

routes = Routes()

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
MAX_LIMIT = 200
_LIMIT = re.compile(r"[0-9]{1,3}")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _fingerprint(body: UpdateCreate) -> str:
    canonical = json.dumps(body.model_dump(mode="json", exclude_unset=True), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _check_fields(store: Store, event: Event, record: Mapping[str, Any]) -> dt.datetime:
    """Checks that need the event: the session exists, happened_at is within its days. Returns happened_at."""
    happened = dt.datetime.fromisoformat(str(record["happened_at"]))
    if not event.accepts_time(happened):
        first = event.starts_on - dt.timedelta(days=1)
        last = event.ends_on + dt.timedelta(days=1)
        raise Invalid(f"happened_at: must fall between {first} and {last} in {event.timezone}", field="happened_at")
    session = record.get("session")
    if session and await store.get_session(event.id, str(session)) is None:
        raise Invalid(f"session: no session {session!r} in event {event.id!r}", field="session")
    return happened


async def _check_owner(store: Store, who: Actor, record: Mapping[str, Any]) -> None:
    """A reporter changes only the updates its own token posted (by token id: a name given again to a new
    token does not carry the old token's updates)."""
    if who.at_least(Role.EDITOR):
        return
    if await store.update_owner(str(record["event"]), str(record["id"])) != who.id:
        raise Forbidden(f"the update was posted by another token ({record['author']['name']!r}); a reporter may "
                        "change only their own")  # fmt: skip


@routes.route("POST", "/api/events/{event}/updates", "Post an update; 201 means it is durable", who="reporter+",
              body=UpdateCreate, response=Update, status=201,
              errors=(401, 403, 404, 409, 413, 415, 422, 503))  # fmt: skip
async def create_update(request: web.Request) -> web.Response:
    event_id = slug(request, "event")
    who = await require(request, Role.REPORTER, event_id)
    body = await read_body(request, UpdateCreate)
    if body.pinned and not who.at_least(Role.EDITOR):
        raise Forbidden("only an editor may pin an update", field="pinned")
    key = request.headers.get("Idempotency-Key")
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        raise Invalid("Idempotency-Key: 1 to 200 visible ASCII characters", field="Idempotency-Key")
    store = request.app[STORE]
    event = await store.get_event(event_id)
    now = _now()
    record: dict[str, Any] = {
        "id": secrets.token_hex(8),
        "event": event_id,
        "session": body.session,
        "author": {"name": who.name},
        "happened_at": codec.utc_text(body.happened_at or now),
        "received_at": codec.utc_text(now),
        "version": 1,
        "text": body.text,
        "html": render_inline(body.text),  # rendered once, here: pages, lists and feeds carry it
        "key": body.key,
        "pinned": body.pinned,
        "quote": body.quote.model_dump(mode="json") if body.quote else None,
        "image": body.image.model_dump(mode="json", exclude_none=True) if body.image else None,
        "tags": body.tags,
    }
    happened = await _check_fields(store, event, record)
    created = await store.create_update(
        event_id,
        record,
        day=event.local_day(happened),
        owner=who.id,
        # Keys belong to the byline, not the token: a reporter whose token was rotated retries from the same outbox.
        idempotency=(who.name, key, _fingerprint(body)) if key else None,
    )
    if created.created:
        metrics.POSTS.inc()
    location = f"/api/events/{event_id}/updates/{created.record['id']}"
    headers = {"Location": location}
    if not created.created:
        headers["Idempotent-Replayed"] = "true"
    return web.json_response(created.record, status=201, headers=headers)


@routes.route("GET", "/api/events/{event}/updates", "Updates, newest last, with cursors", response=UpdateList,
              query=("after", "before", "limit", "session", "day"), errors=(404, 422))  # fmt: skip
async def list_updates(request: web.Request) -> web.Response:
    event_id = slug(request, "event")
    store = request.app[STORE]
    await store.get_event(event_id)
    query = request.query
    raw_limit = query.get("limit", "50")
    limit = int(raw_limit) if _LIMIT.fullmatch(raw_limit) else -1  # ASCII digits only: int() takes "٥" and " 5"
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit: an integer from 1 to {MAX_LIMIT}", field="limit")
    after, before = parse_seq(query.get("after")), parse_seq(query.get("before"), "before")
    session = parse_session(query.get("session"))
    position = await store.last_seq(event_id)  # read first: whatever the list misses comes after it
    records, nxt, prev = await store.list_updates(
        event_id,
        after=after,
        before=before,
        limit=limit,
        session=session,
        day=parse_day(query.get("day")),
    )
    return web.json_response({"updates": records, "next": nxt, "prev": prev, "position": position or "0-0"})


@routes.route("GET", "/api/events/{event}/updates/{id}", "One update (404 once deleted)", response=Update,
              errors=(404,))  # fmt: skip
async def get_update(request: web.Request) -> web.Response:
    event_id = slug(request, "event")
    record = await request.app[STORE].get_update(event_id, request.match_info["id"])
    if record is None:
        raise NotFound(f"no update {request.match_info['id']!r} in event {event_id!r}")
    return web.json_response(record)


async def _current(store: Store, event_id: str, update_id: str) -> dict[str, Any]:
    record = await store.get_update(event_id, update_id)
    if record is None:
        raise NotFound(f"no update {update_id!r} in event {event_id!r}")
    return record


@routes.route("PATCH", "/api/events/{event}/updates/{id}", "Edit an update; version + 1; broadcast as edit",
              who="its author, editor", body=UpdatePatch, response=Update,
              errors=(401, 403, 404, 409, 415, 422, 503))  # fmt: skip
async def edit_update(request: web.Request) -> web.Response:
    event_id, update_id = slug(request, "event"), request.match_info["id"]
    who = await require(request, Role.REPORTER, event_id)
    patch = await read_body(request, UpdatePatch)
    changes = patch.model_dump(mode="json", include=patch.model_fields_set - {"version"})
    if "pinned" in changes and not who.at_least(Role.EDITOR):
        raise Forbidden("only an editor may pin or unpin an update", field="pinned")
    if "happened_at" in changes and changes["happened_at"] is None:
        raise Invalid("happened_at: cannot be null", field="happened_at")
    if "happened_at" in changes:
        changes["happened_at"] = codec.utc_text(dt.datetime.fromisoformat(changes["happened_at"]))
    store = request.app[STORE]
    event = await store.get_event(event_id)
    for _attempt in range(5):
        old = await _current(store, event_id, update_id)
        await _check_owner(store, who, old)
        if patch.version is not None and patch.version != old["version"]:
            raise Conflict(f"version {patch.version} is stale; the update is at version {old['version']}",
                           field="version")  # fmt: skip
        new = {**old, **changes, "version": int(old["version"]) + 1}
        new["html"] = render_inline(str(new.get("text") or ""))
        try:
            Update.model_validate(new)
            UpdateCreate.model_validate({k: new[k] for k in ("text", "quote", "image")})
        except ValidationError as exc:
            raise validation_problem(exc) from exc
        happened = await _check_fields(store, event, new)
        old_day = event.local_day(dt.datetime.fromisoformat(old["happened_at"]))
        try:
            entry = await store.edit_update(event_id, old, new, old_day=old_day, new_day=event.local_day(happened))
        except Conflict:
            if patch.version is not None:
                raise
            continue  # someone else edited between our read and write: apply the patch to their version
        return web.json_response(dict(entry.data))
    raise Conflict("the update keeps changing; try again", field="version")


@routes.route("DELETE", "/api/events/{event}/updates/{id}", "Delete an update; broadcast as delete",
              who="its author, editor", status=204, errors=(401, 403, 404, 503))  # fmt: skip
async def delete_update(request: web.Request) -> web.Response:
    event_id, update_id = slug(request, "event"), request.match_info["id"]
    who = await require(request, Role.REPORTER, event_id)
    store = request.app[STORE]
    event = await store.get_event(event_id)
    for _attempt in range(5):
        old = await _current(store, event_id, update_id)
        await _check_owner(store, who, old)
        day = event.local_day(dt.datetime.fromisoformat(old["happened_at"]))
        try:
            await store.delete_update(event_id, old, day=day)
        except Conflict:
            continue  # edited between our read and the delete: read it again, so its indexes are right
        return web.Response(status=204)
    raise Conflict("the update keeps changing; try again")
