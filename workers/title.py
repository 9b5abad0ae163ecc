"""The post's title: "<blog title> – <event title> – Day N Reflections", never naming the event twice; pure."""

from __future__ import annotations

import datetime as dt

from server.models import Event

__all__ = ["day_number", "post_title"]


def day_number(event: Event, day: dt.date) -> int:
    """Which day of the event ``day`` is, counted from its first day (both local dates in its time zone)."""
    return (day - event.starts_on).days + 1


def post_title(event: Event, day: dt.date) -> str:
    """The title a reader searching for the event finds: the blog, the event (unless the blog names it), the day."""
    parts = [event.blog_title] if event.blog_title else []
    if not event.blog_title or event.title.casefold() not in event.blog_title.casefold():
        parts.append(event.title)
    return " – ".join([*parts, f"Day {day_number(event, day)} Reflections"])
