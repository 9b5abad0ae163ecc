"""Agenda files (TOML or YAML) -> session requests for PUT /api/events/{event}/sessions/{session}.

An agenda lists days, each with a ``date`` and its sessions, or sessions directly::

    event = "socitm-2011"            # optional; if given it must match the event imported into

    [[days]]
    date = "2011-10-10"
    room = "Hall 1"                  # optional default room for the day

    [[days.sessions]]
    id = "opening"                   # optional; else the slugified title
    title = "Opening plenary"
    kind = "plenary"                 # plenary, keynote, roundtable, breakout, panel, workshop, demo, other
    start = "09:30"                  # local time in the event's time zone, or full RFC 3339
    end = "10:15"
    speakers = [{ name = "Ann Example", role = "Chief Executive", organisation = "Brent Council" }]
    hosts = ["Bea Host"]             # a person is a name or a table with name, role, organisation
    participants = ["Brent Council"]

Everything is checked before anything is sent, so a broken file changes nothing.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from pydantic import ValidationError

from server.models import SLUG_PATTERN, Event, SessionBody

_LOCAL_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_TOP_KEYS = {"event", "days", "day", "sessions", "session"}
_DAY_KEYS = {"date", "room", "sessions", "session"}
_SESSION_KEYS = {"id", "title", "kind", "start", "end", "date", "room", "speakers", "hosts", "participants"}
_PERSON_KEYS = {"name", "role", "organisation", "organization"}


class AgendaError(ValueError):
    """The agenda file cannot be read or a session in it is invalid; the message says where."""


@dataclass(frozen=True, slots=True)
class SessionRequest:
    """One session to create or replace: its id and the PUT body (JSON-ready)."""

    id: str
    body: dict[str, object]

    @property
    def title(self) -> str:
        return str(self.body["title"])


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads 10:15 as the base-60 integer 615; agenda times stay strings."""


_Loader.yaml_implicit_resolvers = {key: list(value) for key, value in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for _digit in "0123456789":
    _Loader.yaml_implicit_resolvers.setdefault(_digit, []).insert(
        0, ("tag:yaml.org,2002:str", re.compile(r"^\d{1,2}:\d{2}(?::\d{2})?$"))
    )


def read_agenda(path: Path) -> dict[str, object]:
    """Parse an agenda file: TOML for ``.toml``, YAML for ``.yaml``/``.yml`` (by content otherwise).

    Raises:
        AgendaError: the file cannot be read or parsed, or is not a table/mapping at the top.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AgendaError(f"cannot read {path}: {exc}") from exc
    suffix = Path(path).suffix.lower()
    data: object
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            data = yaml.load(text, Loader=_Loader)
        else:
            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError:
                data = yaml.load(text, Loader=_Loader)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise AgendaError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise AgendaError(f"{path}: expected a table of days or sessions at the top")
    return {str(k): v for k, v in data.items()}


def slugify(title: str) -> str:
    """A session id from a title: lower-case ASCII letters, digits and hyphens, at most 64 characters."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:64].rstrip("-")


def parse_moment(value: object, zone: ZoneInfo, day: dt.date | None = None, *, what: str = "time") -> dt.datetime:
    """An aware datetime from an RFC 3339 string or datetime, or a local time ("09:30") on ``day`` in ``zone``.

    Naive date-times are local to ``zone``. Raises AgendaError when the value cannot be read, or is a
    local time without a day.
    """
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    local: dt.time | None = None
    if isinstance(value, dt.time):
        local = value.replace(tzinfo=None)
    elif isinstance(value, str):
        text = value.strip()
        match = _LOCAL_TIME.fullmatch(text)
        if match:
            hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
            try:
                local = dt.time(hour, minute, second)
            except ValueError as exc:
                raise AgendaError(f"{what}: {text!r} is not a time of day") from exc
        else:
            try:
                moment = dt.datetime.fromisoformat(text)
            except ValueError as exc:
                raise AgendaError(f"{what}: {text!r} is neither HH:MM nor an RFC 3339 date-time") from exc
            return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
    else:
        raise AgendaError(f"{what}: expected HH:MM or an RFC 3339 date-time, not {value!r}")
    if day is None:
        raise AgendaError(f"{what}: a local time needs a date (give the day a date, or use RFC 3339)")
    return dt.datetime.combine(day, local, tzinfo=zone)


def _date(value: object, what: str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise AgendaError(f"{what}: expected a date (YYYY-MM-DD), not a date-time")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise AgendaError(f"{what}: expected a date (YYYY-MM-DD), not {value!r}")


def _table(value: object, what: str, allowed: set[str]) -> dict[str, object]:
    if not isinstance(value, dict):
        raise AgendaError(f"{what}: expected a table/mapping, not {value!r}")
    table = {str(k): v for k, v in value.items()}
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise AgendaError(f"{what}: unknown field {unknown[0]!r} (known: {', '.join(sorted(allowed))})")
    return table


def _list(table: Mapping[str, object], names: Sequence[str], what: str) -> list[object]:
    present = [name for name in names if name in table]
    if len(present) > 1:
        raise AgendaError(f"{what}: use either {present[0]!r} or {present[1]!r}, not both")
    if not present:
        return []
    value = table[present[0]]
    if not isinstance(value, list):
        raise AgendaError(f"{what}: {present[0]!r} must be a list")
    return value


def _person(value: object, what: str) -> dict[str, object]:
    if isinstance(value, str):
        return {"name": value}
    person = _table(value, what, _PERSON_KEYS)
    if "organization" in person:
        person["organisation"] = person.pop("organization")
    return person


def _people(value: object, what: str) -> list[dict[str, object]]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [_person(item, f"{what}[{i + 1}]") for i, item in enumerate(items)]


def _session_body(raw: Mapping[str, object], day: dt.date | None, room: object, zone: ZoneInfo,
                  where: str) -> dict[str, object]:  # fmt: skip
    if "date" in raw:
        day = _date(raw["date"], f"{where}: date")
    if "title" not in raw:
        raise AgendaError(f"{where}: title: missing")
    if "start" not in raw:
        raise AgendaError(f"{where}: start: missing")
    start = parse_moment(raw["start"], zone, day, what=f"{where}: start")
    body: dict[str, object] = {"title": raw["title"], "starts_at": start.isoformat()}
    if raw.get("end") is not None:
        end = parse_moment(raw["end"], zone, day or start.astimezone(zone).date(), what=f"{where}: end")
        body["ends_at"] = end.isoformat()
    if raw.get("kind") is not None:
        body["kind"] = raw["kind"]
    if raw.get("room", room) is not None:
        body["room"] = raw.get("room", room)
    body["speakers"] = _people(raw.get("speakers"), f"{where}: speakers")
    body["hosts"] = _people(raw.get("hosts"), f"{where}: hosts")
    participants = raw.get("participants") or []
    body["participants"] = participants if isinstance(participants, list) else [participants]
    try:
        SessionBody.model_validate(body)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        raise AgendaError(f"{where}: {field + ': ' if field else ''}{message}") from exc
    return body


def build_sessions(data: Mapping[str, object], event: Event) -> list[SessionRequest]:
    """Turn a parsed agenda into session requests for ``event``; local times are in the event's time zone.

    Session ids are the explicit ``id`` or the slugified title (``-2``, ``-3``... for repeated titles, in
    file order, so a re-import yields the same ids).

    Raises:
        AgendaError: the first problem found, naming the day and session.
    """
    top = _table(dict(data), "agenda", _TOP_KEYS)
    if top.get("event") is not None and top["event"] != event.id:
        raise AgendaError(f"agenda: the file is for event {top['event']!r}, not {event.id!r}")
    zone = event.zone
    found: list[tuple[str | None, dict[str, object], str]] = []  # (explicit id, body, where)

    def add(raw_session: object, where: str, day: dt.date | None, room: object) -> None:
        title = raw_session.get("title") if isinstance(raw_session, dict) else None
        if isinstance(title, str) and title.strip():
            where = f"{where} {title.strip()!r}"
        raw = _table(raw_session, where, _SESSION_KEYS)
        body = _session_body(raw, day, room, zone, where)
        starts_at = dt.datetime.fromisoformat(str(body["starts_at"]))
        if not event.accepts_time(starts_at):
            raise AgendaError(f"{where}: start: {starts_at.astimezone(zone):%Y-%m-%d %H:%M} is outside the event's "
                              f"days ({event.starts_on} to {event.ends_on}, {event.timezone})")  # fmt: skip
        explicit = raw.get("id")
        if explicit is not None and not (isinstance(explicit, str) and re.fullmatch(SLUG_PATTERN, explicit)):
            raise AgendaError(f"{where}: id: must match {SLUG_PATTERN}")
        found.append((explicit, body, where))

    for d, raw_day in enumerate(_list(top, ("days", "day"), "agenda"), start=1):
        day_table = _table(raw_day, f"day {d}", _DAY_KEYS)
        if "date" not in day_table:
            raise AgendaError(f"day {d}: date: missing")
        date = _date(day_table["date"], f"day {d}: date")
        for s, raw_session in enumerate(_list(day_table, ("sessions", "session"), f"day {d}"), start=1):
            add(raw_session, f"day {d} ({date}), session {s}", date, day_table.get("room"))
    for s, raw_session in enumerate(_list(top, ("sessions", "session"), "agenda"), start=1):
        add(raw_session, f"session {s}", None, None)
    if not found:
        raise AgendaError("agenda: no sessions found (expected [[days]] with [[days.sessions]], or [[sessions]])")

    taken = {explicit for explicit, _, _ in found if explicit is not None}
    out: list[SessionRequest] = []
    seen: set[str] = set()
    for explicit, body, where in found:
        if explicit is not None:
            if explicit in seen:
                raise AgendaError(f"{where}: id: {explicit!r} is used twice")
            session_id = explicit
        else:
            base = slugify(str(body["title"]))
            if not base:
                raise AgendaError(f"{where}: id: the title has no letters or digits; give the session an id")
            session_id, n = base, 1
            while session_id in seen or session_id in taken:
                n += 1
                suffix = f"-{n}"
                session_id = base[: 64 - len(suffix)].rstrip("-") + suffix
        seen.add(session_id)
        out.append(SessionRequest(session_id, body))
    return out
