"""The reporter and editor desk pages, the signed-in token's identity, and the editor's Markdown preview."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from aiohttp import web

from server.appkeys import SETTINGS
from server.auth import require
from server.errors import NotFound
from server.middleware import read_body
from server.models import Event, ReflectionsPreview, Role, Session, UpdatePreview
from server.pages import (
    UPDATE_POLICY,
    asset,
    asset_url,
    base_url,
    json_script,
    load_event,
    not_found_page,
    path_day,
    render_page,
)
from server.pages.embed import snippet
from server.params import SLUG
from server.reflections_store import post_path
from server.render import BLOCK_ATTRIBUTES, BLOCK_TAGS, render_inline, render_markdown

__all__ = ["html_tree", "routes"]

routes = web.RouteTableDef()

#: The desks' own Trusted Types policy: it lets only the service worker's URL through (desk-common.js).
DESK_POLICY = "plenary-desk"

#: The editor's preview is limited to what render_markdown can produce (plus the rel nh3 adds to links).
_TAGS = BLOCK_TAGS
_ATTRS = frozenset({"rel"}.union(*BLOCK_ATTRIBUTES.values()))
_VOID = frozenset({"br", "hr", "img"})

Node = str | dict[str, Any]


class _Tree(HTMLParser):
    """Sanitised post HTML to nested ``{"t": tag, "a": attrs, "c": children}`` nodes and text strings."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root: list[Node] = []
        self.stack: list[list[Node]] = [self.root]
        self.open: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _TAGS:
            if tag not in _VOID:
                self.open.append(None)  # keep nesting straight; its text goes to the parent
            return
        kept = {k: v for k, v in attrs if k in _ATTRS and v is not None}
        if "href" in kept and not kept["href"].lower().startswith(("http://", "https://", "mailto:")):
            del kept["href"]
        if "src" in kept and not kept["src"].lower().startswith(("http://", "https://")):
            return
        node: dict[str, Any] = {"t": tag, "a": kept, "c": []}
        self.stack[-1].append(node)
        if tag not in _VOID:
            self.open.append(tag)
            self.stack.append(node["c"])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID and self.open:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID or not self.open:
            return
        opened = self.open.pop()
        if opened is not None and len(self.stack) > 1:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].append(data)


def html_tree(markup: str) -> list[Node]:
    """Sanitised HTML as JSON nodes the desk builds with createElement (no HTML parsing in the browser)."""
    parser = _Tree()
    parser.feed(markup)
    parser.close()
    return parser.root


def _session_json(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "title": session.title,
        "kind": session.kind.value,
        "day": session.day.isoformat(),
        "starts_at": session.starts_at.isoformat(),
        "ends_at": session.ends_at.isoformat() if session.ends_at else None,
        "room": session.room,
        "speakers": [p.model_dump(mode="json", exclude_none=True) for p in session.speakers],
    }


def _config(event: Event, sessions: list[Session], **extra: object) -> dict[str, Any]:
    return {
        "event": event.id,
        "title": event.title,
        "blogTitle": event.blog_title or event.title,
        "timezone": event.timezone,
        "days": [d.isoformat() for d in event.days],
        "multiDay": len(event.days) > 1,
        "sessions": [_session_json(s) for s in sessions],
        **extra,
    }


def _page(request: web.Request, name: str, config: dict[str, Any], **fields: object) -> web.Response:
    context = {
        "css_url": asset_url("desk.css"),
        "reader_css_url": asset_url("reader.css"),
        "js_url": asset_url(name.replace(".html", ".js")),
        "config": json_script(config),
        **fields,
    }
    response = render_page(request, name, context, trusted_types=f"{UPDATE_POLICY} {DESK_POLICY}")
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@routes.get("/desk/events/{event}")
async def reporter_desk(request: web.Request) -> web.Response:
    """The reporter desk: composer, offline-safe outbox, own recent updates and the live feed."""
    loaded = await load_event(request)
    if loaded is None:
        return not_found_page(request, "There is no event at this address.")
    event, sessions = loaded
    config = _config(event, sessions, readerUrl=f"/events/{event.id}")
    return _page(request, "reporter.html", config, title=event.blog_title or event.title, event_title=event.title,
                 reader_url=f"/events/{event.id}")  # fmt: skip


@routes.get("/desk/events/{event}/days/{date}")
async def editor_desk(request: web.Request) -> web.Response:
    """The editor desk for one day: compile, edit, trace, save, publish, pin, and the day's sessions."""
    loaded = await load_event(request)
    if loaded is None:
        return not_found_page(request, "There is no event at this address.")
    event, sessions = loaded
    day = path_day(request, event)
    if day is None:
        return not_found_page(request, f"{event.title} has no day {request.match_info['date']!r}.")
    post_url = post_path(event.id, day)
    config = _config(event, sessions, day=day.isoformat(), readerUrl=f"/events/{event.id}", postUrl=post_url)
    label = f"{day:%A} {day.day} {day:%B %Y}"
    origins = request.app[SETTINGS].embed_origins
    embed = {"embed_snippet": snippet(base_url(request), event.id), "embed_origins": origins}
    return _page(request, "editor.html", config, title=event.blog_title or event.title, event_title=event.title,
                 day=label, reader_url=f"/events/{event.id}", post_url=post_url, **embed)  # fmt: skip


@routes.get("/desk/sw.js")
async def service_worker(request: web.Request) -> web.Response:
    """The desks' service worker, served under /desk/ so that its scope covers the desk pages."""
    found = asset("sw.js")
    if found is None:
        raise NotFound("no service worker")
    headers = {"Cache-Control": "no-cache", "Service-Worker-Allowed": "/desk/"}
    return web.Response(body=found.body, content_type="text/javascript", charset="utf-8", headers=headers)


@routes.get("/desk/whoami")
async def whoami(request: web.Request) -> web.Response:
    """The signed-in token's name, role and events (401 without a valid bearer token); never the token."""
    who = await require(request, Role.REPORTER)
    body = {"name": who.name, "role": who.role.value, "events": sorted(who.events)}
    return web.json_response(body, headers={"Cache-Control": "no-store"})


@routes.post("/desk/events/{event}/preview")
async def preview(request: web.Request) -> web.Response:
    """Render an editor's Markdown as the published post would be, as JSON nodes for the desk to build."""
    event_id = request.match_info["event"]
    if not SLUG.fullmatch(event_id):
        raise NotFound("no such event")
    await require(request, Role.EDITOR, event_id)
    body = await read_body(request, ReflectionsPreview)
    nodes = html_tree(render_markdown(body.markdown))
    return web.json_response({"nodes": nodes}, headers={"Cache-Control": "no-store"})


@routes.post("/desk/events/{event}/preview-update")
async def preview_update(request: web.Request) -> web.Response:
    """An update's text as readers will see it: the ``html`` the server would store (the desk renders none)."""
    event_id = request.match_info["event"]
    if not SLUG.fullmatch(event_id):
        raise NotFound("no such event")
    await require(request, Role.REPORTER, event_id)
    body = await read_body(request, UpdatePreview)
    return web.json_response({"html": render_inline(body.text)}, headers={"Cache-Control": "no-store"})
