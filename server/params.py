"""Path and query parameters checked in one place: slugs, seqs and days; a bad one is a 422 naming it."""

from __future__ import annotations

import datetime as dt
import re

from aiohttp import web

from server.errors import Invalid
from server.models import SLUG_PATTERN

SLUG = re.compile(SLUG_PATTERN.removeprefix("^").removesuffix("$"))
SEQ = re.compile(r"[0-9]{1,15}-[0-9]{1,10}")


def slug(request: web.Request, name: str) -> str:
    """A slug from the path.

    Raises:
        Invalid: not ``[a-z0-9][a-z0-9-]{0,63}``.
    """
    value = request.match_info[name]
    if not SLUG.fullmatch(value):
        raise Invalid(f"{name}: must match {SLUG_PATTERN}", field=name)
    return value


def parse_day(value: str | None, field: str = "day") -> dt.date | None:
    """A YYYY-MM-DD value, or None when absent.

    Raises:
        Invalid: not a date.
    """
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise Invalid(f"{field}: expected YYYY-MM-DD", field=field) from exc


def parse_seq(value: str | None, field: str = "after") -> str | None:
    """A log position (``after``, ``before``, Last-Event-ID), or None when absent.

    Raises:
        Invalid: not a seq from this API.
    """
    if not value:
        return None
    if not SEQ.fullmatch(value):
        raise Invalid(f"{field}: not a seq from this API", field=field)
    return value


def parse_session(value: str | None) -> str | None:
    """The session filter, or None when absent.

    Raises:
        Invalid: not a session id.
    """
    if not value:
        return None
    if not SLUG.fullmatch(value):
        raise Invalid("session: not a session id", field="session")
    return value
