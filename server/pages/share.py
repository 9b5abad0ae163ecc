"""Sharing: Open Graph and Twitter card values, the publisher in JSON-LD, and one page per update."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from config.settings import Settings
from server.appkeys import SETTINGS, STORE
from server.models import Event
from server.pages.context import PageContext, article_body, headline, is_http, load_context, not_found_page, render_page
from server.pages.update import update_view

routes = web.RouteTableDef()

_UPDATE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
DESCRIPTION_CHARS = 200


def publisher(settings: Settings, event: Event) -> dict[str, Any]:
    """schema.org Organization that publishes the blog: ``publisher_name`` (else the blog title) and its logo."""
    data: dict[str, Any] = {"@type": "Organization", "name": settings.publisher_name or event.blog_title or event.title}
    if is_http(settings.publisher_logo_url):
        data["logo"] = {"@type": "ImageObject", "url": settings.publisher_logo_url}
    return data


def first_image(updates: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The image of the first update that has one (the newest, for a newest-first list)."""
    for update in updates:
        image = update.get("image") or {}
        if is_http(image.get("url")):
            return image
    return None


def open_graph(
    settings: Settings, event: Event, *, title: str, description: str, url: str,
    image: Mapping[str, Any] | None = None, kind: str = "article",
) -> dict[str, Any]:  # fmt: skip
    """The values of templates/_share.html for one page."""
    text = " ".join(description.split())
    if len(text) > DESCRIPTION_CHARS:
        text = text[: DESCRIPTION_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return {
        "type": kind,
        "site_name": settings.publisher_name or event.blog_title or event.title,
        "title": title,
        "description": text,
        "url": url,
        "image": image.get("url") if image else None,
        "image_alt": (image.get("alt") or image.get("caption")) if image else None,
    }


def update_jsonld(ctx: PageContext, update: Mapping[str, Any], url: str, settings: Settings) -> dict[str, Any]:
    """schema.org BlogPosting of one update, on its own page."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "BlogPosting",
        "@id": url,
        "url": url,
        "headline": headline(update),
        "articleBody": article_body(update),
        "datePublished": ctx.local(update["happened_at"]).isoformat(),
        "isPartOf": {"@type": "LiveBlogPosting", "@id": ctx.page_url, "url": ctx.page_url},
        "publisher": publisher(settings, ctx.event),
    }
    author = (update.get("author") or {}).get("name")
    if author:
        data["author"] = {"@type": "Person", "name": author}
    image = first_image([update])
    if image is not None:
        data["image"] = image["url"]
    return data


@routes.get("/events/{event}/updates/{id}")
async def permalink(request: web.Request) -> web.Response:
    """One update on its own page (to share a key moment): the update, its session, a link to the live page."""
    ctx = await load_context(request)
    if ctx is None:
        return not_found_page(request, "There is no event at this address.")
    update_id = request.match_info["id"]
    update = await request.app[STORE].get_update(ctx.event.id, update_id) if _UPDATE_ID.fullmatch(update_id) else None
    if update is None:
        return not_found_page(request, "This update does not exist, or was deleted.")
    settings = request.app[SETTINGS]
    event = ctx.event
    url = f"{ctx.page_url}/updates/{update['id']}"
    title = headline(update)
    blog = event.blog_title or event.title
    session = ctx.sessions.get(str(update.get("session") or ""))
    context = {
        "event": event,
        "blog_title": blog,
        "title": title,
        "canonical": url,
        "live_url": f"/events/{event.id}",
        "og": open_graph(
            settings,
            event,
            title=f"{title} — {blog}",
            description=article_body(update) or blog,
            url=url,
            image=first_image([update]),
        ),
        "jsonld": update_jsonld(ctx, update, url, settings),
        "update": update_view(update, ctx),
        "session": session,
        "session_time": f"{session.starts_at.astimezone(ctx.zone):%H:%M}" if session else None,
    }
    return render_page(request, "permalink.html", context)
