"""The Atom 1.0 feed of an event's latest updates; every text is escaped by the XML writer."""

from __future__ import annotations

import datetime as dt
import html
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from server import codec
from server.appkeys import STORE
from server.errors import NotFound
from server.pages import reader
from server.pages.context import (
    XML_INVALID,
    PageContext,
    headline,
    is_http,
    load_context,
    parse_time,
    update_html,
)

routes = web.RouteTableDef()

ATOM = "http://www.w3.org/2005/Atom"


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _xml_text(value: str) -> str:
    return XML_INVALID.sub("", value)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: _xml_text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _xml_text(text)
    return element


def atom_feed(ctx: PageContext, updates: list[Mapping[str, Any]]) -> bytes:
    """An Atom 1.0 document of ``updates`` (newest first)."""
    event = ctx.event
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _sub(feed, "id", f"{ctx.page_url}")
    _sub(feed, "title", event.blog_title or event.title)
    _sub(feed, "subtitle", reader.description(event))
    _sub(feed, "link", rel="alternate", type="text/html", href=ctx.page_url)
    _sub(feed, "link", rel="self", type="application/atom+xml", href=f"{ctx.page_url}/feed.atom")
    stamps = [max(parse_time(u["happened_at"]), parse_time(u["received_at"])) for u in updates]
    newest = max(stamps) if stamps else dt.datetime.combine(event.starts_on, dt.time(0, 0), tzinfo=event.zone)
    _sub(feed, "updated", codec.utc_text(newest))
    author = _sub(feed, "author")
    _sub(author, "name", event.blog_title or event.title)
    _sub(feed, "generator", "Plenary")
    for update, stamp in zip(updates, stamps, strict=True):
        entry = _sub(feed, "entry")
        url = f"{ctx.page_url}#u-{update['id']}"
        _sub(entry, "id", url)
        _sub(entry, "title", headline(update))
        _sub(entry, "published", codec.utc_text(parse_time(update["happened_at"])))
        _sub(entry, "updated", codec.utc_text(stamp))
        entry_author = _sub(entry, "author")
        _sub(entry_author, "name", str((update.get("author") or {}).get("name") or event.title))
        _sub(entry, "link", rel="alternate", type="text/html", href=url)
        if update.get("key"):
            _sub(entry, "category", term="key", label="Key event")
        for tag in update.get("tags") or []:
            _sub(entry, "category", term=str(tag))
        _sub(entry, "content", _entry_html(update, ctx), type="html")
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document


def _entry_html(update: Mapping[str, Any], ctx: PageContext) -> str:
    """The body of an update as sanitised HTML for a feed reader (no page chrome, no meta line)."""
    parts: list[str] = []
    text = update_html(update)
    if text:
        parts.append(f"<p>{text}</p>")
    quote = update.get("quote") or {}
    if quote.get("text"):
        speaker = f"<br>— {_esc(quote['speaker'])}" if quote.get("speaker") else ""
        parts.append(f"<blockquote><p>{_esc(quote['text'])}{speaker}</p></blockquote>")
    image = update.get("image") or {}
    if is_http(image.get("url")):
        caption = f"<figcaption>{_esc(image['caption'])}</figcaption>" if image.get("caption") else ""
        parts.append(f'<figure><img src="{_esc(image["url"])}" alt="{_esc(image.get("alt") or "")}">{caption}</figure>')
    session = ctx.sessions.get(str(update.get("session") or ""))
    if session is not None:
        parts.append(f"<p><small>{_esc(session.title)}</small></p>")
    return "".join(parts)


@routes.get("/events/{event}/feed.atom")
async def atom(request: web.Request) -> web.Response:
    """The latest updates of an event as an Atom 1.0 feed."""
    ctx = await load_context(request)
    if ctx is None:
        raise NotFound("no such event")
    records, _next, _prev = await request.app[STORE].list_updates(ctx.event.id, limit=reader.PAGE_SIZE)
    body = atom_feed(ctx, list(reversed(records)))
    return web.Response(
        body=body,
        content_type="application/atom+xml",
        charset="utf-8",
        headers={"Cache-Control": "no-cache", "Content-Security-Policy": "default-src 'none'; sandbox"},
    )
