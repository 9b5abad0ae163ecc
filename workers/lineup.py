"""Sentences written from the programme alone: the day's framing and each session's line-up; pure."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence

from server.models import Session, SessionKind
from workers.post import escape_text
from workers.speakers import Cast

__all__ = ["join_words", "kinds", "line_up", "number", "part_of_day"]

_NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
_KIND_NOUNS: dict[SessionKind, tuple[str, str]] = {
    SessionKind.KEYNOTE: ("keynote", "keynotes"),
    SessionKind.PLENARY: ("plenary session", "plenary sessions"),
    SessionKind.PANEL: ("panel", "panels"),
    SessionKind.ROUNDTABLE: ("roundtable", "roundtables"),
    SessionKind.BREAKOUT: ("breakout session", "breakout sessions"),
    SessionKind.WORKSHOP: ("workshop", "workshops"),
    SessionKind.DEMO: ("live demo", "live demos"),
    SessionKind.OTHER: ("session", "sessions"),
}
_SHORT_NOUNS: dict[SessionKind, str] = {
    SessionKind.KEYNOTE: "keynote",
    SessionKind.PLENARY: "plenary",
    SessionKind.PANEL: "panel",
    SessionKind.ROUNDTABLE: "roundtable",
    SessionKind.BREAKOUT: "breakout",
    SessionKind.WORKSHOP: "workshop",
    SessionKind.DEMO: "live demo",
    SessionKind.OTHER: "session",
}


def number(n: int) -> str:
    """``n`` in words up to ten, in digits after."""
    return _NUMBERS[n] if 0 <= n < len(_NUMBERS) else str(n)


def join_words(parts: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def part_of_day(moment: dt.datetime) -> str:
    """Morning, afternoon or evening of a local time."""
    hour = moment.hour
    return "morning" if hour < 12 else "afternoon" if hour < 17 else "evening"


def kinds(sessions: Sequence[Session]) -> str:
    """The day's programme in a phrase: "a keynote, two panels and a workshop"."""
    counts = Counter(s.kind for s in sessions)
    order = list(dict.fromkeys(s.kind for s in sessions))
    phrases = []
    for kind in order:
        singular, plural = _KIND_NOUNS[kind]
        if kind is SessionKind.OTHER and len(order) > 1:
            singular, plural = "further session", "further sessions"
        n = counts[kind]
        article = "an" if singular[0] in "aeiou" else "a"
        phrases.append(f"{article} {singular}" if n == 1 else f"{number(n)} {plural}")
    return join_words(phrases)


def line_up(session: Session, when: str, cast: Cast, *, meanwhile: bool) -> str:
    """Who spoke, chaired or took part, in sentences that open with the session, never with a name.

    Each person is introduced once in the whole post (``cast`` remembers); empty when the programme names
    nobody; the list of participants only at the cast's full detail. ``meanwhile``: the session ran
    beside the one before it, so the sentence opens "Meanwhile, in
    <room>,".
    """
    many = len(session.speakers) > 1 or session.kind is SessionKind.ROUNDTABLE
    speakers = join_words([cast.describe(p, in_list=many) for p in session.speakers])
    hosts = join_words([cast.describe(p, in_list=True) for p in session.hosts])
    noun = _SHORT_NOUNS[session.kind]
    room = escape_text(session.room) if session.room else ""
    if meanwhile:
        subject = f"Meanwhile, in {room}, the {when} {noun}" if room else f"Meanwhile, the {when} {noun}"
    else:
        subject = f"The {when} {noun}" + (f" in {room}" if room else "")
    speakers = speakers.rstrip(",")
    sentences: list[str] = []
    chair = f", with {hosts} in the chair" if hosts else ""
    match session.kind:
        case SessionKind.PANEL if speakers:
            chaired = f", chaired by {hosts}," if hosts else ""
            sentences.append(f"{subject}{chaired} brought together {speakers}.")
        case SessionKind.ROUNDTABLE if hosts or speakers:
            lead = f" was hosted by {hosts}" if hosts else " ran"
            guests = f", with {speakers} leading the discussion" if speakers else ""
            sentences.append(f"{subject}{lead}{guests}.")
        case SessionKind.BREAKOUT | SessionKind.WORKSHOP if speakers:
            verb = "led" if session.kind is SessionKind.BREAKOUT else "run"
            sentences.append(f"{subject} was {verb} by {speakers}{chair}.")
        case _ if speakers:
            sentences.append(f"{subject} came from {speakers}{chair}.")
        case _ if hosts:
            sentences.append(f"{subject} was chaired by {hosts}.")
    if session.participants and cast.detail >= 2:
        taking_part = join_words([escape_text(p) for p in session.participants])
        sentences.append(f"Around the table were {taking_part}." if session.kind is SessionKind.ROUNDTABLE
                         else f"Taking part were {taking_part}.")  # fmt: skip
    return " ".join(sentences)
