"""The demo fixture: day two of a local-government digital conference as plain data, replayable by `plenary demo`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from server.models import Event, EventCreate, Session, SessionBody, Update
from workers.reflections import LogEntry

__all__ = [
    "DAY",
    "EVENT",
    "EVENT_ID",
    "OTHER_EVENT",
    "REPORTERS",
    "SESSIONS",
    "STEPS",
    "Delete",
    "Edit",
    "Post",
    "Step",
    "demo_event",
    "demo_log",
    "demo_sessions",
    "post",
    "update_id",
]

EVENT_ID = "connected-councils-2025"
DAY = dt.date(2025, 10, 9)
_LONDON = ZoneInfo("Europe/London")

#: ``POST /api/events`` bodies: the demo event and a second event that shares a reporter.
EVENT: dict[str, object] = {
    "id": EVENT_ID,
    "title": "Connected Councils 2025",
    "venue": "Manchester Central",
    "timezone": "Europe/London",
    "starts_on": "2025-10-08",
    "ends_on": "2025-10-09",
    "blog_title": "Digital by Default – Live from Connected Councils 2025",
}
OTHER_EVENT: dict[str, object] = {
    "id": "fenland-housing-summit",
    "title": "Fenland Housing Summit 2025",
    "venue": "Wisbech Town Hall",
    "timezone": "Europe/London",
    "starts_on": "2025-10-09",
    "ends_on": "2025-10-09",
}


def _at(day: int, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(2025, 10, day, hour, minute, tzinfo=_LONDON)


def _person(name: str, role: str, organisation: str) -> dict[str, str]:
    return {"name": name, "role": role, "organisation": organisation}


_OKAFOR = _person("Helen Okafor", "Chief Executive", "Stockbridge City Council")
_ELLISON = _person("Mark Ellison", "Conference Chair", "Connected Councils")

#: ``PUT /api/events/{event}/sessions/{session}`` calls: (event, session id, body), day one then day two.
SESSIONS: list[tuple[str, str, dict[str, object]]] = [
    (EVENT_ID, "opening-keynote", {
        "title": "The money is gone, the demand isn't",
        "kind": "keynote",
        "starts_at": _at(8, 9, 30).isoformat(),
        "ends_at": _at(8, 10, 15).isoformat(),
        "room": "Exchange Hall",
        "speakers": [_person("David Osei", "President", "Society of Council Technologists")],
        "hosts": [_ELLISON],
    }),
    (EVENT_ID, "keynote-ten-years", {
        "title": "Ten years of digital by default: what stuck",
        "kind": "keynote",
        "starts_at": _at(9, 9, 15).isoformat(),
        "ends_at": _at(9, 10, 0).isoformat(),
        "room": "Exchange Hall",
        "speakers": [_OKAFOR],
        "hosts": [_ELLISON],
    }),
    (EVENT_ID, "panel-shared-platforms", {
        "title": "Sharing platforms without sharing the pain",
        "kind": "panel",
        "starts_at": _at(9, 10, 15).isoformat(),
        "ends_at": _at(9, 11, 15).isoformat(),
        "room": "Exchange Hall",
        "speakers": [
            _person("Tom Reddy", "Head of Digital", "North Marsh District Council"),
            _person("Aisha Rahman", "Chief Technology Officer", "Ashdown County Council"),
            _person("Gareth Lloyd", "Director", "Common Platforms Partnership"),
        ],
        "hosts": [_person("Rachel Byrne", "Deputy Editor", "Public Service Weekly")],
    }),
    (EVENT_ID, "roundtable-care-data", {
        "title": "Joining up data for adult social care",
        "kind": "roundtable",
        "starts_at": _at(9, 11, 30).isoformat(),
        "ends_at": _at(9, 12, 30).isoformat(),
        "room": "Charter Room 2",
        "speakers": [_person("Priya Shah", "Data Protection Officer", "Stockbridge City Council")],
        "hosts": [_person("Nadia Kowalski", "Caldicott Guardian", "Ashdown County Council")],
        "participants": [
            "Ashdown County Council",
            "Stockbridge City Council",
            "Kelby Borough Council",
            "Wexmoor NHS Trust",
            "Age Concern Wexmoor",
        ],
    }),
    (EVENT_ID, "workshop-service-standards", {
        "title": "Writing a service standard your teams will use",
        "kind": "workshop",
        "starts_at": _at(9, 13, 30).isoformat(),
        "ends_at": _at(9, 14, 15).isoformat(),
        "room": "Charter Room 3",
        "speakers": [_person("Owen Price", "Service Designer", "Kelby Borough Council")],
    }),
    (EVENT_ID, "breakout-accessible-forms", {
        "title": "Accessible forms residents actually finish",
        "kind": "breakout",
        "starts_at": _at(9, 13, 30).isoformat(),
        "ends_at": _at(9, 14, 15).isoformat(),
        "room": "Charter Room 1",
        "speakers": [
            _person("Lucy Tan", "Content Designer", "North Marsh District Council"),
            _person("Ben Adeyemi", "Accessibility Lead", "Stockbridge City Council"),
        ],
    }),
    (EVENT_ID, "demo-bulky-waste", {
        "title": "Booking a bulky-waste collection in 90 seconds",
        "kind": "demo",
        "starts_at": _at(9, 14, 30).isoformat(),
        "ends_at": _at(9, 15, 0).isoformat(),
        "room": "Exchange Hall",
        "speakers": [_person("Sam Whitfield", "Product Manager", "Kelby Borough Council")],
    }),
    (EVENT_ID, "closing-plenary", {
        "title": "Closing plenary: what councils need from Whitehall",
        "kind": "plenary",
        "starts_at": _at(9, 15, 15).isoformat(),
        "ends_at": _at(9, 16, 0).isoformat(),
        "room": "Exchange Hall",
        "speakers": [_person("Joan Marsh", "Chair", "Digital Councils Network")],
        "hosts": [_ELLISON],
    }),
]  # fmt: skip


@dataclass(frozen=True)
class Post:
    """A reporter posts ``body`` (``POST /api/events/{event}/updates``) at ``at`` on the replay clock."""

    ref: str
    reporter: str
    at: dt.datetime
    body: Mapping[str, object]
    event: str = EVENT_ID


@dataclass(frozen=True)
class Edit:
    """A reporter changes an earlier post (``PATCH .../updates/{id}``) with the fields in ``body``."""

    ref: str
    reporter: str
    at: dt.datetime
    body: Mapping[str, object]
    event: str = EVENT_ID


@dataclass(frozen=True)
class Delete:
    """A reporter deletes an earlier post (``DELETE .../updates/{id}``)."""

    ref: str
    reporter: str
    at: dt.datetime
    event: str = EVENT_ID


Step = Post | Edit | Delete


def post(
    ref: str,
    reporter: str,
    happened: dt.datetime,
    text: str = "",
    *,
    session: str | None = None,
    key: bool = False,
    quote: tuple[str, str | None] | None = None,
    image: Mapping[str, str] | None = None,
    posted: dt.datetime | None = None,
    event: str = EVENT_ID,
    tags: Sequence[str] = (),
) -> Post:
    body: dict[str, object] = {"text": text, "happened_at": happened.isoformat(), "key": key}
    if session is not None:
        body["session"] = session
    if quote is not None:
        body["quote"] = {"text": quote[0], **({"speaker": quote[1]} if quote[1] else {})}
    if image is not None:
        body["image"] = dict(image)
    if tags:
        body["tags"] = list(tags)
    # Reporters post about a minute after the moment unless the script says otherwise.
    return Post(ref, reporter, posted or happened + dt.timedelta(minutes=1), body, event)


_K, _P, _R = "keynote-ten-years", "panel-shared-platforms", "roundtable-care-data"
_B, _D, _C = "breakout-accessible-forms", "demo-bulky-waste", "closing-plenary"

#: The script, in the order it is posted. Day two unless said otherwise.
STEPS: list[Step] = [
    # Day one: a keynote update, and a late-night one that is 23:40 in London (day one) though given in UTC.
    post("d1-osei", "Drew", _at(8, 9, 50), "David Osei says councils must stop buying software they cannot leave.",
          session="opening-keynote", key=True),
    post("d1-drinks", "Howard", dt.datetime(2025, 10, 8, 22, 40, tzinfo=dt.UTC),
          "Drinks reception still going strong at the Midland."),
    # Just after midnight in London, still the evening before in UTC: it belongs to day two.
    post("overnight", "Drew", dt.datetime(2025, 10, 8, 23, 20, tzinfo=dt.UTC),
          "Late news from the organisers: the local government minister will join today's closing plenary "
          "by video link."),
    post("doors", "Drew", _at(9, 8, 40),
          "Day two is under way, and the queue for coffee is longer than the one for registration."),
    post("k-hands", "Drew", _at(9, 9, 16),
          "Helen Okafor opens by asking how many in the room still run a paper form designed before 2015. "
          "Most hands go up.", session=_K),
    post("k-forms", "Howard", _at(9, 9, 19),
          "Okafor says Stockbridge closed 140 of its 230 online forms last year and call volumes fell by a "
          "fifth.", session=_K, key=True),
    post("k-queue", "Drew", _at(9, 9, 24), "Okafor on what digital by default got wrong",
          session=_K, quote=("We digitised the queue. We never asked why people were queuing in the first place.",
                             "Helen Okafor")),
    post("k-apis", "Howard", _at(9, 9, 31),
          "She wants every council to publish its service APIs openly; Stockbridge will publish all of its own "
          "by March.", session=_K, key=True, tags=["apis"]),
    post("k-photo", "Howard", _at(9, 9, 40), "A packed Exchange Hall for the keynote.", session=_K,
          image={"url": "https://images.example.org/cc25/keynote-hall.jpg",
                 "caption": "Helen Okafor on stage in a full Exchange Hall",
                 "alt": "A woman speaks at a lectern in front of a large audience and a slide reading 'Ask why'"}),
    Edit("k-apis", "Howard", _at(9, 9, 45),
         {"text": "She wants every council to publish its service APIs openly; Stockbridge will publish all "
                  "of its own by April."}),
    post("k-wrong", "Drew", _at(9, 9, 50), "Okafor says 320 forms were closed last year.", session=_K),
    Delete("k-wrong", "Drew", _at(9, 9, 53)),
    post("k-legacy", "Drew", _at(9, 9, 52),
          "Questions from the floor focus on legacy contracts; Okafor admits two of Stockbridge's biggest "
          "systems still run on-premises.", session=_K),
    post("p-open", "Drew", _at(9, 10, 17),
          "Rachel Byrne opens the panel by asking whether shared platforms have saved anyone any money yet.",
          session=_P),
    post("p-reddy", "Howard", _at(9, 10, 21),
          "Tom Reddy says North Marsh moved its planning portal onto a shared platform with two neighbours and "
          "cut running costs by 38%.", session=_P, key=True),
    post("p-rahman", "Howard", _at(9, 10, 24), "Rahman is more cautious", session=_P,
          quote=("Sharing a platform is easy. Sharing a roadmap with four finance directors is the hard part.",
                 "Aisha Rahman")),
    post("p-lloyd", "Drew", _at(9, 10, 33),
          "Gareth Lloyd argues the sector needs fewer, better-funded common components rather than a new one "
          "every year.", session=_P),
    post("p-repeat", "Howard", _at(9, 10, 45),
          "Reddy: North Marsh cut running costs by 38% by moving its planning portal onto a shared platform "
          "with two neighbours.", session=_P),
    post("p-floor", "Drew", _at(9, 10, 52),
          "An audience member from Kelby asks who owns the data when a shared platform goes wrong. Nobody on "
          "the panel wants to answer first.", session=_P),
    post("p-owns", "Howard", _at(9, 11, 2), session=_P,
          quote=("If nobody owns it, residents own the consequences.", "Gareth Lloyd")),
    post("p-stop", "Drew", _at(9, 11, 10),
          "Byrne closes by asking each panellist for one thing they would stop doing. Reddy picks bespoke "
          "procurement, Rahman annual licences and Lloyd pilots that never end.", session=_P),
    post("r-rules", "Howard", _at(9, 11, 34),
          "The roundtable runs under the Chatham House rule, so no names beyond the hosts, but the mood is "
          "frank.", session=_R),
    post("r-law", "Howard", _at(9, 11, 41),
          "Nadia Kowalski says the legal basis for sharing social care data already exists; the blocker is "
          "confidence, not law.", session=_R, key=True),
    post("r-gdpr", "Drew", _at(9, 11, 48), "Kowalski to the table", session=_R,
          quote=("Every time we say GDPR won't let us, what we mean is we haven't written it down.",
                 "Nadia Kowalski")),
    post("r-discharge", "Howard", _at(9, 11, 55),
          "Wexmoor NHS Trust describes a pilot where hospital discharge teams see a council care record within "
          "minutes instead of days.", session=_R),
    post("r-plain", "Drew", _at(9, 12, 3),
          "Age Concern Wexmoor asks that residents be told, in plain English, when their data is shared.",
          session=_R),
    post("r-template", "Howard", _at(9, 12, 10),
          "Priya Shah suggests one data-sharing agreement template for the whole county, and the room agrees "
          "to draft it by Christmas.", session=_R, key=True),
    post("r-kelby", "Drew", _at(9, 12, 20), "Kelby Borough Council says it will join the Wexmoor pilot in "
          "the spring.", session=_R),
    post("wifi", "Howard", _at(9, 12, 45),
          "Wi-fi is back in the Exchange Hall <script>alert(1)</script>after a lunchtime outage."),
    # Drew catches up on the panel over lunch: posted at 12:52, it happened at 10:38.
    post("p-late", "Drew", _at(9, 10, 38),
          "Missed earlier: Lloyd revealed the Common Platforms Partnership will fund a shared booking component "
          "for 12 councils from January.", session=_P, key=True, posted=_at(9, 12, 52)),
    post("b-ni", "Drew", _at(9, 13, 33),
          "Lucy Tan shows a benefits form where 60% of people gave up on the page asking for a National "
          "Insurance number.", session=_B),
    post("b-end", "Drew", _at(9, 13, 38),
          "Moving that question to the end and explaining why it is needed lifted completion to 84%.",
          session=_B, key=True),
    post("b-test", "Howard", _at(9, 13, 45), "Adeyemi on testing", session=_B,
          quote=("If you only test with people who are like you, you've tested nothing.", "Ben Adeyemi")),
    post("b-patterns", "Drew", _at(9, 13, 52),
          "Tan and Adeyemi recommend the GOV.UK Design System, with [its form patterns]"
          "(https://design-system.service.gov.uk/patterns/) as a *starting point*.", session=_B),
    post("b-screen", "Howard", _at(9, 14, 5),
          "A delegate from Ashdown says they test every form with a screen reader before it goes live.",
          session=_B),
    post("b-floor", "Howard", _at(9, 14, 8), "Ashdown's Marcus Bell from the floor", session=_B,
          quote=("Accessibility isn't a phase. It's the job.", "Marcus Bell")),
    post("d-live", "Howard", _at(9, 14, 31),
          "Sam Whitfield books a bulky-waste collection live on stage, on a phone, in 74 seconds.",
          session=_D, key=True),
    post("d-reuse", "Drew", _at(9, 14, 34),
          "The service reuses the shared booking component, so payments, reminders and rescheduling came for "
          "free.", session=_D),
    post("d-photo", "Howard", _at(9, 14, 40), session=_D,
          image={"url": "https://images.example.org/cc25/bulky-waste-demo.jpg",
                 "caption": "Sam Whitfield's phone on the big screen, mid-booking",
                 "alt": "A phone screen projected onto a large display showing a collection date picker"}),
    post("d-fastest", "Drew", _at(9, 14, 47), session=_D,
          quote=("The fastest form is the one you don't have to build.", "Sam Whitfield")),
    post("d-missed", "Howard", _at(9, 14, 50),
          "Whitfield says complaints about missed collections have halved since launch.", session=_D),
    post("other-event", "Howard", _at(9, 15, 5), "Fenland agrees a joint housing register for its three "
          "districts.", event="fenland-housing-summit", key=True),
    post("c-minister", "Drew", _at(9, 15, 17),
          "The minister joins by video link, as promised overnight, and thanks councils for their shared "
          "platforms work.", session=_C),
    post("c-funding", "Howard", _at(9, 15, 25),
          "Joan Marsh asks Whitehall for three-year funding settlements so councils can plan digital work "
          "beyond the next budget.", session=_C, key=True),
    post("c-certainty", "Drew", _at(9, 15, 33), "Marsh's closing line drew the biggest applause of the day",
          session=_C, quote=("Give us three years of certainty and we will give you ten years of better "
                             "services.", "Joan Marsh")),
    post("c-next", "Howard", _at(9, 15, 45),
          "Mark Ellison closes the conference and announces that next year's event will be in Stockbridge.",
          session=_C, key=True),
]  # fmt: skip


REPORTERS = ("Drew", "Howard")


def demo_event(body: Mapping[str, object] = EVENT) -> Event:
    """The demo event as the server stores it."""
    return Event.from_create(EventCreate.model_validate(body))


def demo_sessions(
    calls: Sequence[tuple[str, str, Mapping[str, object]]] = SESSIONS, timezone: str = "Europe/London"
) -> list[Session]:
    """The demo agenda (every day) as the server stores it; a session's day is local to ``timezone``."""
    zone = ZoneInfo(timezone)
    sessions = []
    for event_id, session_id, raw in calls:
        body = SessionBody.model_validate(raw)
        day = body.starts_at.astimezone(zone).date()
        sessions.append(Session(id=session_id, event=event_id, day=day, **body.model_dump()))
    return sessions


def update_id(ref: str) -> str:
    """The update id ``demo_log`` gives the post with script reference ``ref``."""
    return f"u-{ref}"


def demo_log(steps: Sequence[Step] = STEPS, sessions: Sequence[Session] | None = None) -> list[LogEntry]:
    """A synthetic log of every event in ``steps`` (sessions first), with increasing fake seqs and ids.

    Each update entry carries the full update in JSON mode, an edit the full new version, a delete ``{"id"}``.
    """
    base = 1_760_000_000_000
    log: list[LogEntry] = []

    def seq() -> str:
        return f"{base + len(log)}-0"

    for session in demo_sessions() if sessions is None else sessions:
        log.append(LogEntry(seq(), "session", session.model_dump(mode="json")))
    current: dict[str, dict[str, Any]] = {}
    for step in steps:
        uid = update_id(step.ref)
        match step:
            case Post():
                body = dict(step.body)
                body.setdefault("happened_at", step.at.isoformat())
                update = Update.model_validate(
                    {**body, "id": uid, "seq": seq(), "event": step.event, "author": {"name": step.reporter},
                     "received_at": step.at.isoformat(), "version": 1}
                )  # fmt: skip
                current[uid] = update.model_dump(mode="json")
                log.append(LogEntry(update.seq, "update", current[uid]))
            case Edit():
                old = current[uid]
                update = Update.model_validate({**old, **step.body, "seq": seq(), "version": old["version"] + 1})
                current[uid] = update.model_dump(mode="json")
                log.append(LogEntry(update.seq, "edit", current[uid]))
            case Delete():
                del current[uid]
                log.append(LogEntry(seq(), "delete", {"id": uid}))
    return log
