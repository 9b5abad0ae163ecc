"""The second demo day, unlike the first: a city-tech summit in Toronto with three reporters (one types in
lower case), a moderated panel, parallel breakouts, lunch, and an evening session after UTC midnight."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from clients.demo_day import Delete, Edit, Step, post

__all__ = ["DAY", "EVENT", "EVENT_ID", "OTHER_EVENT", "REPORTERS", "SESSIONS", "STEPS"]

EVENT_ID = "open-cities-2026"
DAY = dt.date(2026, 5, 12)
_TORONTO = ZoneInfo("America/Toronto")
REPORTERS = ("Ana", "Ben", "Chloé")

EVENT: dict[str, object] = {
    "id": EVENT_ID,
    "title": "Open Cities Summit 2026",
    "venue": "Metro Toronto Convention Centre",
    "timezone": "America/Toronto",
    "starts_on": "2026-05-12",
    "ends_on": "2026-05-13",
    "blog_title": "The Civic Desk",
}
OTHER_EVENT: dict[str, object] = {
    "id": "lakeland-transit-forum",
    "title": "Lakeland Transit Forum",
    "venue": "Union Station",
    "timezone": "America/Toronto",
    "starts_on": "2026-05-12",
    "ends_on": "2026-05-12",
}


def _at(day: int, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(2026, 5, day, hour, minute, tzinfo=_TORONTO)


def _person(name: str, role: str, organisation: str) -> dict[str, str]:
    return {"name": name, "role": role, "organisation": organisation}


def _session(
    title: str, kind: str, starts: dt.datetime, minutes: int, room: str, **people: object
) -> dict[str, object]:
    return {"title": title, "kind": kind, "starts_at": starts.isoformat(),
            "ends_at": (starts + dt.timedelta(minutes=minutes)).isoformat(), "room": room, **people}  # fmt: skip


_ORTEGA = _person("Tomás Ortega", "Chief Digital Officer", "City of Port Alder")
_NATARAJAN = _person("Priya Natarajan", "Editor", "Civic Ledger")

#: ``PUT /api/events/{event}/sessions/{session}`` calls: (event, session id, body).
SESSIONS: list[tuple[str, str, dict[str, object]]] = [
    (EVENT_ID, "keynote-phone", _session("Cities that answer the phone", "keynote", _at(12, 9, 0), 45, "Hall A",
                                         speakers=[_ORTEGA])),
    (EVENT_ID, "panel-data", _session("Who owns the city's data?", "panel", _at(12, 10, 0), 60, "Hall A",
                                      speakers=[_person("Grace Liu", "Open Data Lead", "City of Port Alder"),
                                                _person("Marcus Oyelaran", "Privacy Commissioner",
                                                        "Province of Lakeland"),
                                                _person("Siobhán Kelly", "Founder", "Streetlevel Labs")],
                                      hosts=[_NATARAJAN])),
    (EVENT_ID, "breakout-procurement", _session("Procurement without the pain", "breakout", _at(12, 11, 15), 60,
                                                "Room 201", speakers=[_person("Dana Whitlock", "Procurement Director",
                                                                              "Riverside County")])),
    (EVENT_ID, "breakout-transit", _session("Transit apps everyone can use", "breakout", _at(12, 11, 15), 60,
                                            "Room 202", speakers=[_person("Amir Haddad", "Accessibility Lead",
                                                                          "Lakeland Transit")])),
    (EVENT_ID, "lunch", _session("Lunch", "other", _at(12, 12, 15), 60, "Atrium")),
    (EVENT_ID, "night-shift", _session("Night shift: the city after dark", "plenary", _at(12, 20, 0), 90, "Hall B",
                                       speakers=[_person("Kwame Mensah", "Night Mayor", "City of Port Alder")],
                                       hosts=[_NATARAJAN])),
    (EVENT_ID, "day2-keynote", _session("Streets for people", "keynote", _at(13, 9, 0), 45, "Hall A",
                                        speakers=[_person("Lena Fischer", "Mayor", "Kleinstadt")])),
]  # fmt: skip

_K, _P, _B1, _B2 = "keynote-phone", "panel-data", "breakout-procurement", "breakout-transit"
_L, _N = "lunch", "night-shift"

#: The script, in the order it is posted.
STEPS: list[Step] = [
    post("welcome", "Ana", _at(12, 8, 40),
         "Good morning from Toronto, where 1,400 delegates from 60 cities have come for two days of Open Cities.",
         event=EVENT_ID),
    post("coffee", "Chloé", _at(12, 8, 50), "The coffee queue already reaches the escalators.", event=EVENT_ID),
    post("k-open", "Ben", _at(12, 9, 3),
         "tomás ortega opens with a story about a pothole that took eleven phone calls to report.",
         session=_K, event=EVENT_ID),
    post("k-calls", "Ana", _at(12, 9, 10),
         "Ortega says Port Alder answered 1.2 million calls last year, and 40% of them were about bins.",
         session=_K, key=True, event=EVENT_ID),
    post("k-calls-dup", "Ben", _at(12, 9, 12), "port alder answered 1.2 million calls last year.",
         session=_K, event=EVENT_ID),
    post("k-311", "Chloé", _at(12, 9, 20), "Ortega on the city's 311 line", session=_K, event=EVENT_ID,
         quote=("If a resident has to call us twice, we have failed once.", "Tomás Ortega")),
    post("k-long", "Ana", _at(12, 9, 30),
         "Ortega walks through the city's new service map, which joins up the 311 line, the website and the "
         "counter at city hall so that a request started in one place can be finished in another; he says the "
         "map took two years, cost less than one of the old call-centre contracts, and was built by a team of "
         "nine, most of them hired from the city's own frontline staff rather than from consultancies, which he "
         "credits for the way it handles the awkward cases that real residents bring.", session=_K, event=EVENT_ID),
    post("k-photo", "Chloé", _at(12, 9, 35), "Ortega and the service map.", session=_K, event=EVENT_ID,
         image={"url": "https://images.example.org/oc26/service-map.jpg",
                "caption": "Tomás Ortega in front of Port Alder's service map",
                "alt": "A man points at a projected city map covered in coloured request pins"}),
    post("p-open", "Ana", _at(12, 10, 2),
         "Priya Natarajan opens the panel by asking who should own the data that city sensors collect.",
         session=_P, event=EVENT_ID),
    post("p-liu", "Ben", _at(12, 10, 9),
         "grace liu says port alder now publishes every sensor feed within a day, unless it can identify a person.",
         session=_P, key=True, event=EVENT_ID),
    post("p-consent", "Chloé", _at(12, 10, 15), "Oyelaran on consent", session=_P, event=EVENT_ID,
         quote=("Nobody consents to a lamp post.", "Marcus Oyelaran")),
    post("p-kelly", "Ana", _at(12, 10, 24),
         "Siobhán Kelly argues that residents should be able to see, on one page, every dataset held about "
         "their street.", session=_P, event=EVENT_ID),
    post("p-kelly-again", "Chloé", _at(12, 10, 27),
         "Kelly wants residents to see every dataset held about their street on one page.",
         session=_P, event=EVENT_ID),
    post("p-verdict", "Ben", _at(12, 10, 40), "kelly's verdict:", session=_P, event=EVENT_ID,
         quote=("Open by default is a promise, not a setting.", "Siobhán Kelly")),
    post("p-wrong", "Ana", _at(12, 10, 45), "Oyelaran says the province will ban all sensors.",
         session=_P, event=EVENT_ID),
    Delete("p-wrong", "Ana", _at(12, 10, 47), event=EVENT_ID),
    post("p-close", "Chloé", _at(12, 10, 55),
         "Natarajan closes by asking each panellist for one rule they would write into law tomorrow.",
         session=_P, event=EVENT_ID),
    post("b1-framework", "Ana", _at(12, 11, 20),
         "Dana Whitlock says Riverside County replaced 300 pages of tender rules with a 12-page framework.",
         session=_B1, key=True, event=EVENT_ID),
    # Posted under the procurement breakout by mistake, then moved to the transit one.
    post("b2-audit", "Ben", _at(12, 11, 25),
         "amir haddad shows an audit in which blind riders could not buy a ticket in four of five transit apps.",
         session=_B1, event=EVENT_ID),
    Edit("b2-audit", "Ben", _at(12, 11, 28), {"session": _B2}, event=EVENT_ID),
    post("b1-small", "Ana", _at(12, 11, 35),
         "Whitlock says small local firms now win a third of Riverside's contracts, up from a tenth.",
         session=_B1, event=EVENT_ID),
    post("b2-test", "Chloé", _at(12, 11, 40), "Haddad to the room", session=_B2, event=EVENT_ID,
         quote=("Test with the riders who complain. They are the ones who know.", "Amir Haddad")),
    post("b2-fix", "Chloé", _at(12, 11, 50),
         "Haddad says Lakeland Transit fixed its own app in six weeks once it paid riders to test it.",
         session=_B2, key=True, event=EVENT_ID),
    Edit("b2-fix", "Chloé", _at(12, 11, 55),
         {"text": "Haddad says Lakeland Transit fixed its own app in eight weeks once it paid riders to test it."},
         event=EVENT_ID),
    post("lunch", "Ben", _at(12, 12, 20), "lunch is in the atrium and the wi-fi is finally working.",
         session=_L, event=EVENT_ID),
    post("foreign", "Ana", _at(12, 13, 0), "The transit forum votes to merge two bus networks.",
         event="lakeland-transit-forum", key=True),
    post("n-open", "Chloé", _at(12, 20, 5),
         "Kwame Mensah, Night Mayor of Port Alder, opens the evening session with a map of who works after "
         "midnight.", session=_N, event=EVENT_ID),
    post("n-jobs", "Ana", _at(12, 20, 25),
         "Mensah says one in five of the city's jobs now starts after 6pm, but only two bus routes run past "
         "midnight.", session=_N, key=True, event=EVENT_ID),
    post("n-quote", "Ben", _at(12, 20, 50), "mensah's claim:", session=_N, event=EVENT_ID,
         quote=("A city that sleeps at ten is a city that only works for some of us.", "Kwame Mensah")),
    post("n-pilot", "Chloé", _at(12, 21, 10),
         "Mensah announces a pilot of all-night buses on three routes from September.", session=_N,
         key=True, event=EVENT_ID),
    post("signoff", "Chloé", _at(12, 21, 35),
         "That's all from day one of Open Cities, thank you for following. We're back tomorrow at 9am.",
         event=EVENT_ID),
    post("d2-fischer", "Ana", _at(13, 9, 10), "Lena Fischer says streets are for people, not parking.",
         session="day2-keynote", key=True, event=EVENT_ID),
]  # fmt: skip
