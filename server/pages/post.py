"""The published reflections post of one day as an HTML page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from markupsafe import Markup

from server.appkeys import REFLECTIONS, SETTINGS
from server.pages.context import base_url, day_label, find_event, not_found_page, parse_time, path_day, render_page
from server.pages.share import open_graph, publisher
from server.reflections_store import post_path

routes = web.RouteTableDef()


def _post_jsonld(stored: Mapping[str, Any], published: dt.datetime, canonical: str,
                 by: Mapping[str, Any]) -> dict[str, Any]:  # fmt: skip
    """The compiled BlogPosting with the publication's dates (published, last modified), address and publisher."""
    moment = published.isoformat()
    return {**stored, "datePublished": moment, "dateModified": moment, "url": canonical, "publisher": dict(by)}


@routes.get("/events/{event}/days/{date}/reflections")
async def reflections_page(request: web.Request) -> web.Response:
    """The published reflections post of one day, with BlogPosting JSON-LD; 404 before publishing."""
    event = await find_event(request)
    if event is None:
        return not_found_page(request, "There is no such event.")
    day = path_day(request, event)
    if day is None:
        return not_found_page(request, f"{event.title} has no day {request.match_info['date']!r}.")
    published = await request.app[REFLECTIONS].published(event.id, day)
    if published is None:
        return not_found_page(request, f"The reflections for {day_label(day)} are not published yet.")
    canonical = base_url(request) + post_path(event.id, day)
    moment = parse_time(published["published_at"])
    jsonld = _post_jsonld(published["jsonld"], moment, canonical, publisher(request.app[SETTINGS], event))
    title = str(published["title"] or f"Reflections, {day_label(day)}")
    description = f"{event.title}: the reflections post of {day_label(day)}."
    og = open_graph(request.app[SETTINGS], event, title=title, description=description, url=canonical)
    context = {
        "title": title,
        "description": description,
        "og": og,
        "canonical": canonical,
        "jsonld": jsonld,
        "event": event,
        "day_label": day_label(day),
        "published": moment.astimezone(event.zone).strftime("%-d %B %Y, %H:%M"),
        "body": Markup(str(published["html"])),  # sanitised by nh3 when it was rendered
    }
    return render_page(request, "post.html", context)
