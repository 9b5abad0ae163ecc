"""The live reader page: the latest updates rendered on the server (made live by reader.js), with JSON-LD."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from config.settings import Settings
from server.appkeys import REFLECTIONS, SETTINGS, STORE
from server.models import Event, Session
from server.pages.context import (
    PageContext,
    article_body,
    day_label,
    headline,
    is_http,
    load_context,
    not_found_page,
    phase,
    render_page,
)
from server.pages.share import first_image, open_graph, publisher
from server.pages.update import update_view
from server.params import SEQ
from server.reflections_store import Reflections, post_path
from workers.post import event_jsonld

routes = web.RouteTableDef()

#: Latest updates in the first view and in the Atom feed.
PAGE_SIZE = 50
#: Latest updates described in the reader page's JSON-LD (search engines read the newest; the page stays small).
JSONLD_UPDATES = 10


@dataclass(frozen=True, slots=True)
class FirstView:
    """What a live page shows before its feed connects, and the log position the feed resumes from."""

    after: str | None
    pinned: Mapping[str, Any] | None
    newest_first: list[Mapping[str, Any]]
    prev: str | None


async def first_view(request: web.Request, event_id: str, *, session: str | None = None,
                     before: str | None = None, limit: int | None = None) -> FirstView:  # fmt: skip
    """The latest updates (or those before ``before``), the pinned one apart, newest first."""
    store = request.app[STORE]
    # The log position is read before the list, so the feed resumes from no later than what the list shows.
    after = await store.last_seq(event_id)
    records, _next, prev = await store.list_updates(event_id, before=before, limit=limit or PAGE_SIZE, session=session)
    pinned_id = await store.pinned_id(event_id) if before is None else None
    pinned = await store.get_update(event_id, pinned_id) if pinned_id else None
    if pinned is not None and session is not None and pinned.get("session") != session:
        pinned = None
    newest_first = [r for r in reversed(records) if pinned is None or r["id"] != pinned["id"]]
    return FirstView(after, pinned, newest_first, prev)


def live_config(
    ctx: PageContext, after: str | None, *, session: str | None = None, live: bool = True
) -> dict[str, Any]:
    """The reader-config that reader.js starts from."""
    return {
        "event": ctx.event.id,
        "timezone": ctx.event.timezone,
        "multiDay": len(ctx.event.days) > 1,
        "session": session,
        "after": after or "0-0",
        "live": live,
        "sessions": {s.id: s.title for s in ctx.sessions.values()},
    }


def coverage(event: Event) -> tuple[dt.datetime, dt.datetime]:
    """Start of the event's first day and end of its last day, in its time zone."""
    start = dt.datetime.combine(event.starts_on, dt.time(0, 0), tzinfo=event.zone)
    end = dt.datetime.combine(event.ends_on, dt.time(23, 59, 59), tzinfo=event.zone)
    return start, end


def live_blog_jsonld(ctx: PageContext, updates: Iterable[Mapping[str, Any]], settings: Settings) -> dict[str, Any]:
    """schema.org LiveBlogPosting for the event, with a BlogPosting for each of the latest JSONLD_UPDATES."""
    event = ctx.event
    start, end = coverage(event)
    latest = list(updates)[:JSONLD_UPDATES]
    posts: list[dict[str, Any]] = []
    for update in latest:
        post: dict[str, Any] = {
            "@type": "BlogPosting",
            "@id": f"{ctx.page_url}#u-{update['id']}",
            "url": f"{ctx.page_url}#u-{update['id']}",
            "headline": headline(update),
            "articleBody": article_body(update),
            "datePublished": ctx.local(update["happened_at"]).isoformat(),
        }
        author = (update.get("author") or {}).get("name")
        if author:
            post["author"] = {"@type": "Person", "name": author}
        image = update.get("image") or {}
        if is_http(image.get("url")):
            post["image"] = image["url"]
        posts.append(post)
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "LiveBlogPosting",
        "@id": ctx.page_url,
        "url": ctx.page_url,
        "headline": event.blog_title or event.title,
        "coverageStartTime": start.isoformat(),
        "coverageEndTime": end.isoformat(),
        "about": event_jsonld(event),
        "publisher": publisher(settings, event),
        "liveBlogUpdate": posts,
    }
    image = first_image(latest)
    if image is not None:
        data["image"] = image["url"]
    if posts:
        data["dateModified"] = max(p["datePublished"] for p in posts)
    return data


async def published_days(event: Event, reflections: Reflections) -> list[tuple[str, str]]:
    """Links to the event's published reflections posts, with each post's title."""
    titles = await reflections.published_titles(event.id, event.days)
    return [(post_path(event.id, day), titles[day] or f"Reflections, {day_label(day)}") for day in event.days
            if day in titles]  # fmt: skip


def session_days(ctx: PageContext) -> list[tuple[str, list[dict[str, str]]]]:
    """The event's sessions grouped by day for the filter, each with its local start time."""
    by_day: dict[dt.date, list[Session]] = {}
    for session in sorted(ctx.sessions.values(), key=lambda s: s.starts_at):
        by_day.setdefault(session.day, []).append(session)
    return [(day_label(day), [_session_option(s, ctx) for s in sessions]) for day, sessions in by_day.items()]


def _session_option(session: Session, ctx: PageContext) -> dict[str, str]:
    return {"id": session.id, "title": session.title, "start": f"{session.starts_at.astimezone(ctx.zone):%H:%M}"}


def _key_event(update: Mapping[str, Any], ctx: PageContext) -> dict[str, str]:
    when = ctx.local(update["happened_at"])
    time = f"{when:%H:%M}"
    return {"id": str(update["id"]), "datetime": when.isoformat(), "time": time, "headline": headline(update)}


def dates(event: Event) -> str:
    first, last = event.starts_on, event.ends_on
    if first == last:
        return f"{day_label(first)} {first.year}"
    return f"{day_label(first)} – {day_label(last)} {last.year}"


def description(event: Event) -> str:
    return f"Live coverage of {event.title}" + (f" at {event.venue}" if event.venue else "")


@routes.get("/events/{event}")
async def reader_page(request: web.Request) -> web.Response:
    """The live reader page: the latest updates rendered on the server, made live by reader.js."""
    ctx = await load_context(request)
    if ctx is None:
        return not_found_page(request, "There is no event at this address.")
    event, sessions = ctx.event, ctx.sessions
    query = request.query
    session = query.get("session") or None
    if session is not None and session not in sessions:
        return not_found_page(request, "This event has no such session.")
    before = query.get("before") if SEQ.fullmatch(query.get("before", "")) else None
    only_key = query.get("key") in ("1", "on", "true")
    first = await first_view(request, event.id, session=session, before=before)
    after, pinned, newest_first, prev = first.after, first.pinned, first.newest_first, first.prev
    shown = ([pinned] if pinned else []) + newest_first

    def link(**params: str) -> str:
        merged = {"session": session or "", "key": "1" if only_key else "", **params}
        qs = "&".join(f"{k}={v}" for k, v in merged.items() if v)
        return f"/events/{event.id}" + (f"?{qs}" if qs else "")

    config = live_config(ctx, after, session=session, live=before is None)
    title = event.blog_title or event.title
    settings = request.app[SETTINGS]
    key_events = [_key_event(r, ctx) for r in shown if r.get("key")]
    context = {
        "event": event,
        "title": title,
        "page_title": f"{title} — live" if before is None else f"{title} — earlier updates",
        "description": description(event),
        "canonical": ctx.page_url,
        "feed_url": f"/events/{event.id}/feed.atom",
        "jsonld": live_blog_jsonld(ctx, shown, settings),
        "og": open_graph(
            settings,
            event,
            title=title,
            description=description(event),
            url=ctx.page_url,
            image=first_image(shown),
            kind="website",
        ),
        "config": config,
        "dates": dates(event),
        "phase": phase(event),
        "session": session,
        "session_days": session_days(ctx),
        "only_key": only_key,
        "pinned": update_view(pinned, ctx) if pinned else None,
        "updates": [update_view(r, ctx) for r in newest_first],
        "shown": bool(shown),
        "key_events": key_events,
        "older_url": link(before=prev) if prev else None,
        "latest_url": link() if before else None,
        "reflections": await published_days(event, request.app[REFLECTIONS]),
    }
    return render_page(request, "reader.html", context)
