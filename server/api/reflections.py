"""The day's reflections post: queue a compile, read, edit with optimistic concurrency, publish."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from aiohttp import web

from server import codec
from server.api import Routes
from server.appkeys import QUEUE, REFLECTIONS, SETTINGS, STORE
from server.auth import actor, require
from server.errors import NotFound
from server.middleware import read_body
from server.models import Event, ReflectionsCompile, ReflectionsEdit, ReflectionsJob, ReflectionsPost, Role
from server.params import parse_day, slug
from server.reflections_store import post_path
from workers.post import blog_posting, markdown_to_html, sources_from_markdown
from workers.queue import enqueue_compile, job_id

routes = Routes()
PATH = "/api/events/{event}/days/{date}/reflections"


async def _event_day(request: web.Request) -> tuple[Event, dt.date]:
    event = await request.app[STORE].get_event(slug(request, "event"))
    day = parse_day(request.match_info["date"], "date")
    if day is None or day not in event.days:
        raise NotFound(f"{day} is not a day of {event.id!r} ({event.starts_on} to {event.ends_on})")
    return event, day


@routes.route("POST", PATH, "Queue a compile of the day's draft", who="editor", body=ReflectionsCompile,
              response=ReflectionsJob, status=202, errors=(401, 403, 404, 409, 422))  # fmt: skip
async def compile_reflections(request: web.Request) -> web.Response:
    await require(request, Role.EDITOR, slug(request, "event"))
    event, day = await _event_day(request)
    body = await read_body(request, ReflectionsCompile) if request.can_read_body else ReflectionsCompile()
    settings = request.app[SETTINGS]
    job = job_id(settings, event.id, day, uuid.uuid4().hex[:12])
    await request.app[REFLECTIONS].request_compile(event.id, day, job, replace=body.replace)
    await enqueue_compile(await request.app[QUEUE].pool(), settings, event.id, day, job, replace=body.replace)
    return web.json_response({"job": job, "status": "compiling"}, status=202)


def _public(post: dict[str, Any], event: str, day: dt.date) -> dict[str, Any]:
    return {**post, "url": post_path(event, day)}


@routes.route("GET", PATH, "The day's post: the draft for editors, the published post for anyone",
              response=ReflectionsPost, errors=(404,))  # fmt: skip
async def get_reflections(request: web.Request) -> web.Response:
    event, day = await _event_day(request)
    reflections = request.app[REFLECTIONS]
    who = await actor(request)
    if who is not None and who.at_least(Role.EDITOR) and who.can_access(event.id):
        post = await reflections.get(event.id, day)
        if post is None:
            raise NotFound(f"no reflections for {day} yet; compile them first")
        return web.json_response(_public(post, event.id, day))
    published = await reflections.published(event.id, day)
    if published is None:
        raise NotFound(f"the reflections for {day} are not published")
    return web.json_response(_public({"status": "published", "version": 0, **published}, event.id, day))


@routes.route("PUT", PATH, "Save an editor's version (409 when version is stale)", who="editor",
              body=ReflectionsEdit, response=ReflectionsPost, errors=(401, 403, 404, 409, 422))  # fmt: skip
async def edit_reflections(request: web.Request) -> web.Response:
    await require(request, Role.EDITOR, slug(request, "event"))
    event, day = await _event_day(request)
    body = await read_body(request, ReflectionsEdit)
    reflections = request.app[REFLECTIONS]
    current = await reflections.get(event.id, day)
    if current is None:
        raise NotFound(f"no reflections for {day} yet; compile them first")
    title = body.title or current["title"] or event.title
    fields = {
        "title": title,
        "markdown": body.markdown,
        "html": markdown_to_html(body.markdown),
        "sources": json.dumps(sources_from_markdown(body.markdown)),
        # mentions, image and publisher stay as compiled; headline and authors follow the edit
        "jsonld": json.dumps({**(current["jsonld"] or {}), **blog_posting(title, current["authors"], event)}),
        "edited_at": codec.utc_text(dt.datetime.now(dt.UTC)),
    }
    await reflections.edit(event.id, day, body.version, fields)
    post = await reflections.get(event.id, day)
    assert post is not None
    return web.json_response(_public(post, event.id, day))


@routes.route("POST", PATH + "/publish", "Publish the draft; broadcast as reflections", who="editor",
              response=ReflectionsPost, errors=(401, 403, 404))  # fmt: skip
async def publish_reflections(request: web.Request) -> web.Response:
    await require(request, Role.EDITOR, slug(request, "event"))
    event, day = await _event_day(request)
    reflections = request.app[REFLECTIONS]
    post = await reflections.get(event.id, day)
    if post is None or not post.get("markdown"):
        raise NotFound(f"no compiled reflections for {day} to publish")
    summary = {"title": post["title"], "day": day.isoformat(), "url": post_path(event.id, day),
               "authors": post["authors"]}  # fmt: skip
    await reflections.publish(event.id, day, summary)
    published = await reflections.get(event.id, day)
    assert published is not None
    return web.json_response(_public(published, event.id, day))
