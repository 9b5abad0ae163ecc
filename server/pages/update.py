"""One update as the reader sees it: the values templates/_update.html lays out (reader.js builds the same)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from server.pages.context import PageContext, day_label, is_http, update_html

#: A photo stored by POST /api/events/{event}/media: its full rendition, whose small one sits beside it.
_STORED = re.compile(r"(?P<stem>.+/media/[a-z0-9][a-z0-9-]*/[0-9a-f]{24})-2048\.(?P<ext>jpg|png)")
SMALL = 640


def srcset(image: Mapping[str, Any]) -> str | None:
    """``srcset`` for a stored photo with known size (phones load the small rendition), else None."""
    found = _STORED.fullmatch(str(image.get("url") or ""))
    width, height = image.get("width"), image.get("height")
    if found is None or not isinstance(width, int) or not isinstance(height, int):
        return None
    small = round(width * min(1.0, SMALL / max(width, height)))
    return f"{found['stem']}-{SMALL}.{found['ext']} {small}w, {image['url']} {width}w"


def _image(image: Mapping[str, Any]) -> dict[str, Any]:
    fields = ("url", "alt", "caption", "width", "height")
    return {**{name: image.get(name) for name in fields}, "srcset": srcset(image)}


def update_view(update: Mapping[str, Any], ctx: PageContext) -> dict[str, Any]:
    """The fields of ``update`` ready for the template: local times, session title, sanitised text HTML."""
    when = ctx.local(update["happened_at"])
    session_id = str(update.get("session") or "")
    session = ctx.sessions.get(session_id) if session_id else None
    quote = update.get("quote") or {}
    image = update.get("image") or {}
    text = update_html(update)
    classes = ["update"] + (["is-key"] if update.get("key") else []) + (["is-pinned"] if update.get("pinned") else [])
    return {
        "id": str(update["id"]),
        "seq": update.get("seq", ""),
        "version": update.get("version", 1),
        "received": update.get("received_at", ""),
        "session_id": session_id,
        "classes": " ".join(classes),
        "datetime": when.isoformat(),
        "day": day_label(when.date()) if len(ctx.event.days) > 1 else None,
        "time": f"{when:%H:%M}",
        "session_title": session.title if session is not None else None,
        "pinned": bool(update.get("pinned")),
        "key": bool(update.get("key")),
        "html": Markup(text) if text else None,  # sanitised when written (server/render.py)
        "quote_lines": str(quote.get("text") or "").strip().splitlines() if quote.get("text") else [],
        "speaker": quote.get("speaker") or None,
        "image": _image(image) if is_http(image.get("url")) else None,
        "tags": [str(t) for t in update.get("tags") or []],
        "author": (update.get("author") or {}).get("name") or None,
        "permalink": f"/events/{ctx.event.id}/updates/{update['id']}",
    }
