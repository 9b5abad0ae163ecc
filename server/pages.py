"""Reader page first view (with JSON-LD), Atom feed, versioned static assets and the CSP pages are sent with."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import html
import re
import string
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from server import codec
from server.appkeys import REFLECTIONS, SETTINGS, STORE
from server.errors import NotFound
from server.models import Event, Session
from server.params import SEQ, SLUG
from server.reflections_store import Reflections, post_path
from workers.post import event_jsonld

__all__ = ["Asset", "asset", "asset_url", "csp", "not_found_page", "page_response", "routes"]

routes = web.RouteTableDef()

#: Latest updates in the first view and in the Atom feed.
PAGE_SIZE = 50
#: Folders of ``clients`` whose files are served under /static/ (names must be unique across them).
ASSET_DIRS = ("reader", "desk")
_ASSET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\.(?:js|css|svg|png|ico|webmanifest)")
_CONTENT_TYPES = {
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
    "png": "image/png",
    "ico": "image/x-icon",
    "webmanifest": "application/manifest+json",
}
_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(?::\d{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](?::\d{1,5})?")
# Characters XML 1.0 cannot carry at all, even escaped.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_TAG = re.compile(r"<[^>]*>")
_BR = re.compile(r"<br\s*/?>")
ATOM = "http://www.w3.org/2005/Atom"
HEADLINE_CHARS = 110


# --- headers --------------------------------------------------------------------------------------


def csp(host: str | None = None, media_origin: str = "") -> str:
    """The Content-Security-Policy of every HTML page: no inline script or style, no plugins, no framing.

    ``host`` (the request's Host) adds explicit ws:// and wss:// sources for browsers whose 'self' does not
    cover WebSockets; anything that is not a plain host[:port] is ignored. Images load over https only (no
    http:, no data:), plus ``media_origin`` (the setting; it may be an http origin of one's own).
    """
    images = "'self' https:" + (f" {media_origin}" if media_origin else "")
    connect = "'self'"
    if host and _HOST.fullmatch(host):
        connect += f" ws://{host} wss://{host}"
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {images}",
            "font-src 'self'",
            f"connect-src {connect}",
            "manifest-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
            "require-trusted-types-for 'script'",
            "trusted-types plenary-update",  # reader.js's one policy: update HTML the server sanitised
        ]
    )


def page_response(request: web.Request, body: str, *, status: int = 200) -> web.Response:
    """An HTML page with the strict CSP and the other headers pages carry (desk pages use this too)."""
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = csp(request.host, request.app[SETTINGS].media_origin)
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    response.headers["Cache-Control"] = "no-cache"
    return response


# --- static assets --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Asset:
    """One file served under /static/, with the version that goes into its URL."""

    name: str
    body: bytes
    content_type: str
    version: str


@functools.cache
def _assets() -> dict[str, Asset]:
    """Every file under clients/reader and clients/desk, read once per process: a fixed set, so a loop of
    random names cannot grow the process (misses are not remembered)."""
    found: dict[str, Asset] = {}
    base = resources.files("clients")
    for folder in reversed(ASSET_DIRS):  # the first folder wins a name both hold
        for path in base.joinpath(folder).iterdir():
            name = path.name
            if path.is_file() and _ASSET_NAME.fullmatch(name):
                body = path.read_bytes()
                kind = _CONTENT_TYPES[name.rpartition(".")[2]]
                found[name] = Asset(name, body, kind, hashlib.sha256(body).hexdigest()[:12])
    return found


def asset(name: str) -> Asset | None:
    """The static file ``name`` from clients/reader or clients/desk, or None."""
    return _assets().get(name)


def asset_url(name: str) -> str:
    """The versioned URL of a static file, cached for a year by browsers; changes whenever the file does."""
    found = asset(name)
    if found is None:
        raise LookupError(f"no static file {name!r}")
    return f"/static/{name}?v={found.version}"


@functools.cache
def template(name: str, folder: str = "reader") -> string.Template:
    """A page template shipped in ``clients/<folder>``, read once."""
    return string.Template(resources.files("clients").joinpath(folder, name).read_text(encoding="utf-8"))


@routes.get("/static/{name}")
async def static(request: web.Request) -> web.Response:
    found = asset(request.match_info["name"])
    if found is None:
        raise NotFound("no such file")
    etag = f'"{found.version}"'
    versioned = request.query.get("v") == found.version
    headers = {
        "ETag": etag,
        "Cache-Control": "public, max-age=31536000, immutable" if versioned else "no-cache",
        "Cross-Origin-Resource-Policy": "same-origin",
    }
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=found.body, headers={**headers, "Content-Type": found.content_type})


# --- rendering ------------------------------------------------------------------------------------


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def json_script(data: object) -> str:
    """JSON safe inside a <script> data block: nothing in it can close the element or open a comment."""
    text = codec.to_json(data)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _parse_time(value: object) -> dt.datetime:
    moment = dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _day_label(day: dt.date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def plain_text(update: Mapping[str, Any]) -> str:
    """The reader-visible text of an update (its stored ``html``), without markup, whitespace collapsed."""
    text = _TAG.sub("", _BR.sub(" ", _html(update)))
    return " ".join(_XML_INVALID.sub("", html.unescape(text)).split())


def _html(update: Mapping[str, Any]) -> str:
    """The update's text as sanitised HTML, rendered once when it was written (server/render.py)."""
    return str(update.get("html") or "")


def _clip(text: str, limit: int = HEADLINE_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] or text[: limit - 1]
    return cut.rstrip(" ,;:.") + "…"


def headline(update: Mapping[str, Any]) -> str:
    """A one-line title for an update: its text, else its quote, else its image caption."""
    text = plain_text(update)
    quote = update.get("quote") or {}
    image = update.get("image") or {}
    if not text and quote.get("text"):
        speaker = f" — {quote['speaker']}" if quote.get("speaker") else ""
        text = f"“{' '.join(str(quote['text']).split())}”{speaker}"
    if not text:
        text = " ".join(str(image.get("caption") or image.get("alt") or "").split())
    return _clip(text or "Update")


def article_body(update: Mapping[str, Any]) -> str:
    """The whole plain text of an update (text, then quote with its speaker, then image caption)."""
    parts = [plain_text(update)]
    quote = update.get("quote") or {}
    if quote.get("text"):
        speaker = f" — {quote['speaker']}" if quote.get("speaker") else ""
        parts.append(f"“{quote['text']}”{speaker}")
    image = update.get("image") or {}
    if image.get("caption"):
        parts.append(str(image["caption"]))
    return "\n\n".join(p for p in parts if p)


def _is_http(url: object) -> bool:
    return isinstance(url, str) and url.lower().startswith(("http://", "https://"))


@dataclass
class PageContext:
    """What rendering one event's updates needs: its zone, session titles and where the page lives."""

    event: Event
    base: str
    sessions: dict[str, Session] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return self.event.zone

    @property
    def page_url(self) -> str:
        return f"{self.base}/events/{self.event.id}"

    def local(self, value: object) -> dt.datetime:
        return _parse_time(value).astimezone(self.zone)


def render_update(update: Mapping[str, Any], ctx: PageContext) -> str:
    """One update as an <article>; the structure reader.js builds for live updates is the same."""
    uid = str(update["id"])
    when = ctx.local(update["happened_at"])
    classes = ["update"] + (["is-key"] if update.get("key") else []) + (["is-pinned"] if update.get("pinned") else [])
    session_id = update.get("session") or ""
    attrs = (
        f'class="{" ".join(classes)}" id="u-{_esc(uid)}" data-id="{_esc(uid)}" data-seq="{_esc(update.get("seq", ""))}"'
        f' data-version="{_esc(update.get("version", 1))}" data-received="{_esc(update.get("received_at", ""))}"'
        f' data-session="{_esc(session_id)}"'
    )
    meta = [f'<a class="update-time" href="#u-{_esc(uid)}"><time datetime="{_esc(when.isoformat())}">']
    if len(ctx.event.days) > 1:
        meta.append(f'<span class="update-day">{_esc(_day_label(when.date()))}</span> ')
    meta.append(f"{when:%H:%M}</time></a>")
    session = ctx.sessions.get(str(session_id)) if session_id else None
    if session is not None:
        meta.append(f'<span class="update-session">{_esc(session.title)}</span>')
    if update.get("pinned"):
        meta.append('<span class="badge badge-pinned">Pinned</span>')
    if update.get("key"):
        meta.append('<span class="badge badge-key">Key event</span>')
    parts = [f"<article {attrs}>", f'<header class="update-meta">{"".join(meta)}</header>']
    text = _html(update)
    if text:
        parts.append(f'<div class="update-text">{text}</div>')
    quote = update.get("quote") or {}
    if quote.get("text"):
        lines = "<br>".join(_esc(line) for line in str(quote["text"]).strip().splitlines())
        parts.append(f'<figure class="pull-quote"><blockquote><p>{lines}</p></blockquote>')
        if quote.get("speaker"):
            parts.append(f"<figcaption>{_esc(quote['speaker'])}</figcaption>")
        parts.append("</figure>")
    image = update.get("image") or {}
    if _is_http(image.get("url")):
        parts.append(
            f'<figure class="update-image"><img src="{_esc(image["url"])}" alt="{_esc(image.get("alt") or "")}"'
            ' loading="lazy" decoding="async" referrerpolicy="no-referrer">'
        )
        if image.get("caption"):
            parts.append(f"<figcaption>{_esc(image['caption'])}</figcaption>")
        parts.append("</figure>")
    tags = [str(t) for t in update.get("tags") or []]
    if tags:
        parts.append('<ul class="update-tags">' + "".join(f"<li>{_esc(t)}</li>" for t in tags) + "</ul>")
    author = (update.get("author") or {}).get("name")
    if author:
        parts.append(f'<footer class="update-author">{_esc(author)}</footer>')
    parts.append("</article>")
    return "".join(parts)


def _key_event_item(update: Mapping[str, Any], ctx: PageContext) -> str:
    when = ctx.local(update["happened_at"])
    return (
        f'<li data-id="{_esc(update["id"])}"><a href="#u-{_esc(update["id"])}">'
        f'<time datetime="{_esc(when.isoformat())}">{when:%H:%M}</time> '
        f'<span class="key-headline">{_esc(headline(update))}</span></a></li>'
    )


def coverage(event: Event) -> tuple[dt.datetime, dt.datetime]:
    """Start of the event's first day and end of its last day, in its time zone."""
    start = dt.datetime.combine(event.starts_on, dt.time(0, 0), tzinfo=event.zone)
    end = dt.datetime.combine(event.ends_on, dt.time(23, 59, 59), tzinfo=event.zone)
    return start, end


def live_blog_jsonld(ctx: PageContext, updates: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """schema.org LiveBlogPosting for the event, with one BlogPosting per update (newest first)."""
    event = ctx.event
    start, end = coverage(event)
    about = event_jsonld(event)
    posts: list[dict[str, Any]] = []
    for update in updates:
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
        if _is_http(image.get("url")):
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
        "about": about,
        "liveBlogUpdate": posts,
    }
    if posts:
        data["dateModified"] = max(p["datePublished"] for p in posts)
    return data


# --- handlers -------------------------------------------------------------------------------------


def _base_url(request: web.Request) -> str:
    public = request.app[SETTINGS].public_url
    return public.rstrip("/") if public else f"{request.scheme}://{request.host}"


def not_found_page(request: web.Request, detail: str) -> web.Response:
    """The 404 page (with the strict CSP) that reader and desk pages answer for unknown addresses."""
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">'
        f'<title>Not found</title><link rel="stylesheet" href="{_esc(asset_url("reader.css"))}"></head>'
        f'<body><main class="page notfound"><h1>Not found</h1><p>{_esc(detail)}</p></main></body></html>'
    )
    return page_response(request, body, status=404)


async def _published_days(event: Event, reflections: Reflections) -> list[tuple[dt.date, str]]:
    """The event's days whose reflections are published, with each post's title."""
    titles = await reflections.published_titles(event.id, event.days)
    return [(day, titles[day] or f"Reflections, {_day_label(day)}") for day in event.days if day in titles]


def _reflections_links(event: Event, days: list[tuple[dt.date, str]]) -> str:
    if not days:
        return ""
    items = "".join(f'<li><a href="{_esc(post_path(event.id, day))}">{_esc(title)}</a></li>' for day, title in days)
    return (
        '<nav class="reflections-links" aria-labelledby="reflections-title">'
        f'<h2 id="reflections-title">The day\'s reflections</h2><ul>{items}</ul></nav>'
    )


async def find_event(request: web.Request) -> Event | None:
    """The event named in the path, or None when there is no such event."""
    event_id = request.match_info["event"]
    if not SLUG.fullmatch(event_id):
        return None
    try:
        return await request.app[STORE].get_event(event_id)
    except NotFound:
        return None


async def load_event(request: web.Request) -> tuple[Event, list[Session]] | None:
    """The event named in the path with its sessions in start order, or None when there is no such event."""
    event = await find_event(request)
    if event is None:
        return None
    return event, await request.app[STORE].list_sessions(event.id)


def path_day(request: web.Request, event: Event) -> dt.date | None:
    """The ``{date}`` in the path when it is one of the event's days, else None."""
    try:
        day = dt.date.fromisoformat(request.match_info["date"])
    except ValueError:
        return None
    return day if day in event.days else None


async def _load(request: web.Request) -> tuple[Event, dict[str, Session]] | None:
    loaded = await load_event(request)
    return None if loaded is None else (loaded[0], {s.id: s for s in loaded[1]})


def _session_options(ctx: PageContext, chosen: str | None) -> str:
    by_day: dict[dt.date, list[Session]] = {}
    for session in sorted(ctx.sessions.values(), key=lambda s: s.starts_at):
        by_day.setdefault(session.day, []).append(session)
    out = [f'<option value=""{"" if chosen else " selected"}>All sessions</option>']
    for day, sessions in by_day.items():
        out.append(f'<optgroup label="{_esc(_day_label(day))}">')
        for s in sessions:
            start = s.starts_at.astimezone(ctx.zone)
            selected = " selected" if s.id == chosen else ""
            out.append(f'<option value="{_esc(s.id)}"{selected}>{start:%H:%M} {_esc(s.title)}</option>')
        out.append("</optgroup>")
    return "".join(out)


def _dates(event: Event) -> str:
    first, last = event.starts_on, event.ends_on
    if first == last:
        return f"{_day_label(first)} {first.year}"
    return f"{_day_label(first)} – {_day_label(last)} {last.year}"


@routes.get("/events/{event}")
async def reader_page(request: web.Request) -> web.Response:
    """The live reader page: the latest updates rendered on the server, made live by reader.js."""
    loaded = await _load(request)
    if loaded is None:
        return not_found_page(request, "There is no event at this address.")
    event, sessions = loaded
    store = request.app[STORE]
    query = request.query
    session = query.get("session") or None
    if session is not None and session not in sessions:
        return not_found_page(request, "This event has no such session.")
    before = query.get("before") if SEQ.fullmatch(query.get("before", "")) else None
    only_key = query.get("key") in ("1", "on", "true")
    # The log position is read before the list, so the feed resumes from no later than what the list shows.
    after = await store.last_seq(event.id)
    records, _next, prev = await store.list_updates(event.id, before=before, limit=PAGE_SIZE, session=session)
    pinned_id = await store.pinned_id(event.id) if before is None else None
    pinned = await store.get_update(event.id, pinned_id) if pinned_id else None
    if pinned is not None and session is not None and pinned.get("session") != session:
        pinned = None
    newest_first = [r for r in reversed(records) if pinned is None or r["id"] != pinned["id"]]
    ctx = PageContext(event, _base_url(request), sessions)
    shown = ([pinned] if pinned else []) + newest_first
    key_events = [r for r in shown if r.get("key")]

    def link(**params: str) -> str:
        merged = {"session": session or "", "key": "1" if only_key else "", **params}
        qs = "&".join(f"{k}={v}" for k, v in merged.items() if v)
        return f"/events/{event.id}" + (f"?{qs}" if qs else "")

    config = {
        "event": event.id,
        "timezone": event.timezone,
        "multiDay": len(event.days) > 1,
        "session": session,
        "after": after or "0-0",
        "live": before is None,
        "sessions": {s.id: s.title for s in sessions.values()},
    }
    older = f'<a class="older" href="{_esc(link(before=prev))}">Older updates</a>' if prev else ""
    latest = f'<a class="older" href="{_esc(link())}">Back to the latest updates</a>' if before else ""
    title = event.blog_title or event.title
    body = template("reader.html").substitute(
        title=_esc(title),
        page_title=_esc(f"{title} — live" if before is None else f"{title} — earlier updates"),
        description=_esc(f"Live coverage of {event.title}" + (f" at {event.venue}" if event.venue else "")),
        canonical=_esc(ctx.page_url),
        feed_url=_esc(f"/events/{event.id}/feed.atom"),
        css_url=_esc(asset_url("reader.css")),
        js_url=_esc(asset_url("reader.js")),
        jsonld=json_script(live_blog_jsonld(ctx, shown)),
        config=json_script(config),
        event_title=_esc(event.title),
        venue=_esc(event.venue or ""),
        dates=_esc(_dates(event)),
        timezone=_esc(event.timezone),
        event_id=_esc(event.id),
        session_options=_session_options(ctx, session),
        key_checked=" checked" if only_key else "",
        feed_class="feed only-key" if only_key else "feed",
        pinned=render_update(pinned, ctx) if pinned else "",
        pinned_hidden="" if pinned else " hidden",
        updates="".join(render_update(r, ctx) for r in newest_first),
        empty_hidden=" hidden" if shown else "",
        key_events="".join(_key_event_item(r, ctx) for r in key_events),
        key_empty_hidden=" hidden" if key_events else "",
        pager=latest + older,
        reflections=_reflections_links(event, await _published_days(event, request.app[REFLECTIONS])),
    )
    return page_response(request, body)


def _xml_text(value: str) -> str:
    return _XML_INVALID.sub("", value)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: _xml_text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _xml_text(text)
    return element


def atom_feed(ctx: PageContext, updates: list[Mapping[str, Any]]) -> bytes:
    """An Atom 1.0 document of ``updates`` (newest first); every text is escaped by the XML writer."""
    event = ctx.event
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _sub(feed, "id", f"{ctx.page_url}")
    _sub(feed, "title", event.blog_title or event.title)
    _sub(feed, "subtitle", f"Live coverage of {event.title}" + (f" at {event.venue}" if event.venue else ""))
    _sub(feed, "link", rel="alternate", type="text/html", href=ctx.page_url)
    _sub(feed, "link", rel="self", type="application/atom+xml", href=f"{ctx.page_url}/feed.atom")
    stamps = [max(_parse_time(u["happened_at"]), _parse_time(u["received_at"])) for u in updates]
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
        _sub(entry, "published", codec.utc_text(_parse_time(update["happened_at"])))
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
    text = _html(update)
    if text:
        parts.append(f"<p>{text}</p>")
    quote = update.get("quote") or {}
    if quote.get("text"):
        speaker = f"<br>— {_esc(quote['speaker'])}" if quote.get("speaker") else ""
        parts.append(f"<blockquote><p>{_esc(quote['text'])}{speaker}</p></blockquote>")
    image = update.get("image") or {}
    if _is_http(image.get("url")):
        caption = f"<figcaption>{_esc(image['caption'])}</figcaption>" if image.get("caption") else ""
        parts.append(f'<figure><img src="{_esc(image["url"])}" alt="{_esc(image.get("alt") or "")}">{caption}</figure>')
    session = ctx.sessions.get(str(update.get("session") or ""))
    if session is not None:
        parts.append(f"<p><small>{_esc(session.title)}</small></p>")
    return "".join(parts)


@routes.get("/events/{event}/feed.atom")
async def atom(request: web.Request) -> web.Response:
    """The latest updates of an event as an Atom 1.0 feed."""
    loaded = await _load(request)
    if loaded is None:
        raise NotFound("no such event")
    event, sessions = loaded
    records, _next, _prev = await request.app[STORE].list_updates(event.id, limit=PAGE_SIZE)
    ctx = PageContext(event, _base_url(request), sessions)
    body = atom_feed(ctx, list(reversed(records)))
    return web.Response(
        body=body,
        content_type="application/atom+xml",
        charset="utf-8",
        headers={"Cache-Control": "no-cache", "Content-Security-Policy": "default-src 'none'; sandbox"},
    )


def _post_jsonld(stored: Mapping[str, Any], published: dt.datetime, canonical: str) -> dict[str, Any]:
    """The stored BlogPosting with the publication's date (published and last modified) and address."""
    return {**stored, "datePublished": published.isoformat(), "dateModified": published.isoformat(), "url": canonical}


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
        return not_found_page(request, f"The reflections for {_day_label(day)} are not published yet.")
    canonical = _base_url(request) + post_path(event.id, day)
    moment = _parse_time(published["published_at"])
    jsonld = _post_jsonld(published["jsonld"], moment, canonical)
    title = str(published["title"] or f"Reflections, {_day_label(day)}")
    body = template("post.html").substitute(
        title=_esc(title),
        description=_esc(f"{event.title}: the reflections post of {_day_label(day)}."),
        canonical=_esc(canonical),
        css_url=_esc(asset_url("reader.css")),
        jsonld=json_script(jsonld),
        event_id=_esc(event.id),
        event_title=_esc(event.title),
        venue=_esc(event.venue or ""),
        day_label=_esc(_day_label(day)),
        published=_esc(moment.astimezone(event.zone).strftime("%-d %B %Y, %H:%M")),
        body=str(published["html"]),  # sanitised by nh3 when it was rendered
    )
    return page_response(request, body)
