"""The live reader without the site's chrome, for an <iframe> in a news site's article (API.md: embed)."""

from __future__ import annotations

from aiohttp import web

from server.appkeys import SETTINGS
from server.pages.context import load_context, not_found_page, phase, render_page
from server.pages.reader import first_view, live_config
from server.pages.update import update_view

routes = web.RouteTableDef()

THEMES = ("light", "dark")


def snippet(base: str, event_id: str) -> str:
    """The copy-paste code a news site puts in its article: a script that inserts and sizes the iframe."""
    return f'<script src="{base}/static/embed.js" data-event="{event_id}" async></script>'


@routes.get("/events/{event}/embed")
async def embed_page(request: web.Request) -> web.Response:
    """The embed: framed only by ``embed_origins``; embed-frame.js tells the parent its height."""
    ctx = await load_context(request)
    if ctx is None:
        return not_found_page(request, "There is no event at this address.")
    theme = request.query.get("theme")
    first = await first_view(request, ctx.event.id)
    context = {
        "event": ctx.event,
        "title": ctx.event.blog_title or ctx.event.title,
        "theme": theme if theme in THEMES else None,
        "phase": phase(ctx.event),
        "canonical": ctx.page_url,
        "config": live_config(ctx, first.after),
        "pinned": update_view(first.pinned, ctx) if first.pinned else None,
        "updates": [update_view(r, ctx) for r in first.newest_first],
    }
    origins = request.app[SETTINGS].embed_origins
    response = render_page(request, "embed.html", context, frame_ancestors=origins)
    response.headers["X-Robots-Tag"] = "noindex"
    return response
