"""Pydantic models for API bodies and stored records; pure (no I/O)."""

from __future__ import annotations

import datetime as dt
import secrets
import unicodedata
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    computed_field,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
MAX_TEXT = 10_000

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(max_length=2_000)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


def _http_url(value: str) -> str:
    if not value.lower().startswith(("http://", "https://")) or len(value) > 2_000 or " " in value:
        raise ValueError("must be an http:// or https:// URL")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


TimeZone = Annotated[str, AfterValidator(_time_zone)]

EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)


def _within_calendar(value: dt.datetime) -> dt.datetime:
    """Refuse moments whose conversion to UTC or an event's zone could leave Python's calendar."""
    if not EARLIEST <= value <= LATEST:
        raise ValueError("must fall between 1900 and 9000")
    return value


Moment = Annotated[AwareDatetime, AfterValidator(_within_calendar)]
Day = Annotated[dt.date, Field(ge=EARLIEST.date(), le=LATEST.date())]


class Body(BaseModel):
    """Base of request bodies: unknown fields are rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Record(BaseModel):
    """Base of stored records and answers: frozen, strict about names."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Role(StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    REPORTER = "reporter"


class SessionKind(StrEnum):
    PLENARY = "plenary"
    KEYNOTE = "keynote"
    ROUNDTABLE = "roundtable"
    BREAKOUT = "breakout"
    PANEL = "panel"
    WORKSHOP = "workshop"
    DEMO = "demo"
    OTHER = "other"


# --- tokens -----------------------------------------------------------------------------------------


_NAME_PUNCTUATION = frozenset(" .'-")


def byline_name(value: str) -> str:
    """A token's name as bylines print it: NFC-normalised Unicode letters, marks, digits, spaces and ``.'-``,
    1 to 64 characters, no space at either end or twice in a row (so two spellings are never two names).

    Raises:
        ValueError: saying which character or rule failed.
    """
    name = unicodedata.normalize("NFC", value)
    if not 1 <= len(name) <= 64:
        raise ValueError("name: 1 to 64 characters")
    if name != name.strip(" ") or "  " in name:
        raise ValueError("name: no space at either end or twice in a row")
    for char in name:
        category = unicodedata.category(char)
        if char not in _NAME_PUNCTUATION and category[0] not in "LM" and category != "Nd":
            raise ValueError(f"name: {char!r} is not a letter, mark, digit, space or one of . ' -")
    return name


ByLineName = Annotated[str, AfterValidator(byline_name)]


class TokenCreate(Body):
    name: ByLineName
    role: Role
    events: list[Slug] = Field(default_factory=list, max_length=1000)
    expires_at: Moment | None = None

    @field_validator("expires_at")
    @classmethod
    def _in_the_future(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value <= dt.datetime.now(dt.UTC):
            raise ValueError("expires_at must be in the future")
        return value

    @model_validator(mode="after")
    def _admin_name_is_reserved(self) -> TokenCreate:
        # "admin" is the byline of the configured admin token: a reporter must not post as it.
        if self.name.casefold() == "admin" and self.role is not Role.ADMIN:
            raise ValueError("name: 'admin' is reserved for admin tokens")
        return self


class TokenInfo(Record):
    """What is known about a token; the secret itself is never stored. Updates belong to its ``id``, so a name
    given again to a new token carries no rights over the old token's updates."""

    id: str = Field(default_factory=lambda: secrets.token_hex(8))
    name: str
    role: Role
    events: list[str] = Field(default_factory=list)
    expires_at: dt.datetime | None = None

    def expired(self) -> bool:
        """Past its optional expiry: authentication refuses it (the record stays, listed, until revoked)."""
        return self.expires_at is not None and self.expires_at <= dt.datetime.now(dt.UTC)


class TokenCreated(TokenInfo):
    token: str


class TokenAuditEntry(Record):
    """One creation or revocation: ``who`` is the acting token's name (or the command that acted), ``name``
    the token acted on."""

    who: str
    what: Literal["create", "revoke"]
    name: str
    role: str
    at: dt.datetime


class TokenAudit(Record):
    entries: list[TokenAuditEntry]


# --- events and sessions ----------------------------------------------------------------------------


class EventCreate(Body):
    id: Slug
    title: Name
    venue: Annotated[str, StringConstraints(max_length=200)] | None = None
    timezone: TimeZone = "UTC"
    starts_on: Day
    ends_on: Day
    blog_title: Annotated[str, StringConstraints(max_length=300)] | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> EventCreate:
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on: must not be before starts_on")
        if (self.ends_on - self.starts_on).days > 30:
            raise ValueError("ends_on: an event lasts at most 31 days")
        return self


class Event(Record):
    id: str
    title: str
    venue: str | None = None
    timezone: str = "UTC"
    starts_on: dt.date
    ends_on: dt.date
    blog_title: str | None = None

    @classmethod
    def from_create(cls, body: EventCreate) -> Event:
        return cls(**body.model_dump())

    @computed_field  # type: ignore[prop-decorator]
    @property
    def days(self) -> list[dt.date]:
        """Every day of the event, first to last (in answers, never stored)."""
        return [self.starts_on + dt.timedelta(days=i) for i in range((self.ends_on - self.starts_on).days + 1)]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local_day(self, moment: dt.datetime) -> dt.date:
        """The calendar day of ``moment`` in the event's time zone."""
        return moment.astimezone(self.zone).date()

    def accepts_time(self, moment: dt.datetime) -> bool:
        """True when ``moment`` falls within the event's days, plus one day either side, in its zone."""
        day = self.local_day(moment)
        return self.starts_on - dt.timedelta(days=1) <= day <= self.ends_on + dt.timedelta(days=1)


class Person(Record):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name
    role: Annotated[str, StringConstraints(max_length=200)] | None = None
    organisation: Annotated[str, StringConstraints(max_length=200)] | None = None


class SessionBody(Body):
    title: Name
    kind: SessionKind = SessionKind.OTHER
    starts_at: Moment
    ends_at: Moment | None = None
    room: Annotated[str, StringConstraints(max_length=200)] | None = None
    speakers: list[Person] = Field(default_factory=list, max_length=100)
    hosts: list[Person] = Field(default_factory=list, max_length=100)
    participants: list[Name] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _ends_after_start(self) -> SessionBody:
        if self.ends_at is not None and self.ends_at < self.starts_at:
            raise ValueError("ends_at: must not be before starts_at")
        return self


class Session(Record):
    id: str
    event: str
    title: str
    kind: SessionKind = SessionKind.OTHER
    starts_at: dt.datetime
    ends_at: dt.datetime | None = None
    room: str | None = None
    speakers: list[Person] = Field(default_factory=list)
    hosts: list[Person] = Field(default_factory=list)
    participants: list[str] = Field(default_factory=list)
    day: dt.date


# --- updates ----------------------------------------------------------------------------------------


class Quote(Record):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT)]
    speaker: Name | None = None


class Image(Record):
    url: HttpUrl
    caption: ShortText | None = None
    alt: ShortText | None = None
    width: int | None = Field(None, ge=1, le=100000)
    height: int | None = Field(None, ge=1, le=100000)


class Author(Record):
    name: str


UpdateText = Annotated[str, StringConstraints(max_length=MAX_TEXT)]


class UpdateCreate(Body):
    text: UpdateText = ""
    session: Slug | None = None
    happened_at: Moment | None = None
    key: bool = False
    pinned: bool = False
    quote: Quote | None = None
    image: Image | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _has_content(self) -> UpdateCreate:
        if not self.text.strip() and self.quote is None and self.image is None:
            raise ValueError("text: an update needs text, a quote or an image")
        return self


class UpdatePreview(Body):
    text: UpdateText


class UpdatePatch(Body):
    """Fields to change; a field that is absent stays as it was, null clears an optional one."""

    # None here means "absent" (these cannot be cleared): the schema offers no null for them.
    text: UpdateText | SkipJsonSchema[None] = None
    session: Slug | None = None
    happened_at: Moment | SkipJsonSchema[None] = None
    key: bool | SkipJsonSchema[None] = None
    pinned: bool | SkipJsonSchema[None] = None
    quote: Quote | None = None
    image: Image | None = None
    tags: Annotated[list[Tag], Field(max_length=20)] | SkipJsonSchema[None] = None
    version: Annotated[int, Field(ge=1)] | SkipJsonSchema[None] = Field(
        default=None, description="If given, the edit fails with 409 unless it matches"
    )

    @field_validator("text")
    @classmethod
    def _text_not_none(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError("text cannot be null")
        return value


class Update(Record):
    id: str
    seq: str
    event: str
    session: str | None = None
    author: Author
    happened_at: dt.datetime
    received_at: dt.datetime
    version: int = 1
    text: str = ""
    html: str = Field("", description="text rendered once when written: light Markdown, sanitised")
    key: bool = False
    pinned: bool = False
    quote: Quote | None = None
    image: Image | None = None
    tags: list[str] = Field(default_factory=list)


class UpdateList(Record):
    updates: list[Update]
    next: str | None = None
    prev: str | None = None
    position: str | None = Field(
        None, description="The event log's last seq when the list was read: follow the feed with after=position"
    )


class EventView(Event):
    """One event as ``GET /api/events/{event}`` answers it: with the id of its pinned update, if any."""

    pinned: str | None = None


class EventList(Record):
    events: list[Event]


class SessionList(Record):
    sessions: list[Session]


class Health(Record):
    status: str


# --- reflections ------------------------------------------------------------------------------------


class ReflectionsCompile(Body):
    replace: bool = False


MARKDOWN_MAX = 60_000  # characters of a reflections post's Markdown


class ReflectionsEdit(Body):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)] | None = None
    markdown: Annotated[str, StringConstraints(min_length=1, max_length=MARKDOWN_MAX)]
    version: int = Field(ge=0)


class ReflectionsPreview(Body):
    markdown: Annotated[str, StringConstraints(max_length=MARKDOWN_MAX)]


class ReflectionsJob(Record):
    job: str
    status: str


class MergedUpdates(Record):
    """Updates the compiler folded into another that says the same (``into``): no sentence twice."""

    into: str
    updates: list[str]


class DroppedUpdate(Record):
    """An update the compiler left out, and why (chatter, over the word budget...)."""

    update: str
    why: str


class ReflectionsPost(Record):
    status: str
    version: int
    title: str | None = None
    markdown: str | None = None
    html: str | None = None
    jsonld: dict[str, object] | None = None
    sources: dict[str, list[str]] = Field(default_factory=dict)
    authors: list[str] = Field(default_factory=list)
    edited: bool = False
    compiled_at: str | None = None
    published_at: str | None = None
    url: str | None = None
    merged: list[MergedUpdates] = Field(default_factory=list)
    dropped: list[DroppedUpdate] = Field(default_factory=list)
