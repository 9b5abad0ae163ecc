"""What every event page needs: the event from the path, its zone and sessions, headlines and the 404 page."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web
from markupsafe import Markup

from server import codec
from server.appkeys import SETTINGS, STORE
from server.client import public_base
from server.errors import NotFound
from server.models import Event, Session
from server.pages.headers import UPDATE_POLICY, page_response
from server.params import SLUG

# Characters XML 1.0 cannot carry at all, even escaped.
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_TAG = re.compile(r"<[^>]*>")
_BR = re.compile(r"<br\s*/?>")
HEADLINE_CHARS = 110


def json_script(data: object) -> Markup:
    """JSON safe inside a <script> data block: nothing in it can close the element or open a comment."""
    text = codec.to_json(data)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def parse_time(value: object) -> dt.datetime:
    moment = dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def day_label(day: dt.date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def plain_text(update: Mapping[str, Any]) -> str:
    """The reader-visible text of an update (its stored ``html``), without markup, whitespace collapsed."""
    text = _TAG.sub("", _BR.sub(" ", update_html(update)))
    return " ".join(XML_INVALID.sub("", html.unescape(text)).split())


def update_html(update: Mapping[str, Any]) -> str:
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


def is_http(url: object) -> bool:
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
        return parse_time(value).astimezone(self.zone)


def phase(event: Event, now: dt.datetime | None = None) -> str:
    """ "upcoming", "live" or "ended": where ``now`` falls against the event's days in its own time zone."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(event.zone)
    if moment.date() < event.starts_on:
        return "upcoming"
    return "live" if moment.date() <= event.ends_on else "ended"


PHASE_LABELS = {"upcoming": "Soon", "live": "Live", "ended": "Ended"}


def base_url(request: web.Request) -> str:
    """The base of this server's absolute URLs (see ``public_base``)."""
    return public_base(request, request.app[SETTINGS])


def render_page(
    request: web.Request,
    name: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    frame_ancestors: tuple[str, ...] = (),
    trusted_types: str = UPDATE_POLICY,
) -> web.Response:
    """Template ``name`` (autoescaped) as an HTML page with the strict headers."""
    body = aiohttp_jinja2.render_string(name, request, context)
    return page_response(request, body, status=status, frame_ancestors=frame_ancestors, trusted_types=trusted_types)


def not_found_page(request: web.Request, detail: str) -> web.Response:
    """The 404 page (with the strict CSP) that reader and desk pages answer for unknown addresses."""
    return render_page(request, "notfound.html", {"detail": detail}, status=404)


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


async def load_context(request: web.Request) -> PageContext | None:
    """The PageContext of the event in the path, or None when there is no such event."""
    loaded = await load_event(request)
    if loaded is None:
        return None
    return PageContext(loaded[0], base_url(request), {s.id: s for s in loaded[1]})


def path_day(request: web.Request, event: Event) -> dt.date | None:
    """The ``{date}`` in the path when it is one of the event's days, else None."""
    try:
        day = dt.date.fromisoformat(request.match_info["date"])
    except ValueError:
        return None
    return day if day in event.days else None
