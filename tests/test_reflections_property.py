"""Hypothesis: compile_day's promises over random days (parallel tracks, duplicates across reporters,
edits, deletes, other days and events, sign-offs); pure, no Redis."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.models import Event, Person, Session, SessionKind, Update
from workers.reflections import LogEntry, compile_day

ZONE = ZoneInfo("America/New_York")
EVENT = Event(id="prop", title="Prop Conf", venue="Hall", timezone="America/New_York",
              starts_on=dt.date(2025, 11, 1), ends_on=dt.date(2025, 11, 3))  # fmt: skip
DAY = dt.date(2025, 11, 2)  # the clocks go back in New York
_FILLER = ["budget", "roads", "housing", "data", "cloud", "forms", "care", "bins", "libraries", "parking"]
_REPORTERS = ["Drew", "Howard", "Asha", "Ben"]


@dataclass
class Fact:
    """What the post must do with one generated update."""

    marker: str
    author: str
    in_scope: bool
    key: bool = False
    quote: str | None = None
    deleted: bool = False
    old: list[str] = field(default_factory=list)
    signoff: bool = False


def _entry(n: int, kind: str, update: Update) -> LogEntry:
    return LogEntry(f"{n}-0", kind, update.model_dump(mode="json"))


@st.composite
def days(draw: st.DrawFn) -> tuple[list[Session], list[LogEntry], dict[str, Fact]]:
    sessions = []
    for i in range(draw(st.integers(1, 5))):
        starts = dt.datetime(2025, 11, 2, draw(st.integers(8, 17)), draw(st.sampled_from([0, 30])), tzinfo=ZONE)
        sessions.append(Session(id=f"s{i}", event="prop", title=f"Session number {i}", day=DAY,
                                kind=draw(st.sampled_from(list(SessionKind))), starts_at=starts,
                                ends_at=starts + dt.timedelta(minutes=60), room=draw(st.sampled_from(["A", "B"])),
                                speakers=[Person(name=f"Speaker Zz{i}", role="Lead", organisation="Org")]))  # fmt: skip
    log: list[LogEntry] = []
    facts: dict[str, Fact] = {}
    updates: dict[str, Update] = {}
    for n in range(draw(st.integers(1, 25))):
        where = draw(st.sampled_from(["day"] * 5 + ["before", "after", "foreign"]))
        day = {"before": DAY - dt.timedelta(days=1), "after": DAY + dt.timedelta(days=1)}.get(where, DAY)
        author = draw(st.sampled_from(_REPORTERS))
        uid, marker = f"u{n}", f"zq{n}x"
        copy_of = draw(st.sampled_from([None, None, *updates])) if updates else None
        signoff = draw(st.integers(0, 9)) == 0
        if copy_of is not None and where == "day":
            # Another reporter repeats an earlier update word for word, or a part of it.
            source = updates[copy_of]
            words = source.text.rstrip(".").split()
            text = " ".join(words if draw(st.booleans()) else words[: max(4, len(words) - 1)]) + "."
            marker, signoff = facts[copy_of].marker, facts[copy_of].signoff
        elif signoff:
            text = f"That is all from {marker}, thank you for following."
        else:
            text = f"Point {marker} about {' '.join(draw(st.lists(st.sampled_from(_FILLER), min_size=2, max_size=6)))}."
        key = draw(st.booleans()) and not signoff
        quote = f"Quote zq{n}q said." if draw(st.booleans()) and not signoff else None
        happened = dt.datetime(day.year, day.month, day.day, draw(st.integers(0, 23)), draw(st.integers(0, 59)),
                               tzinfo=ZONE)  # fmt: skip
        update = Update(id=uid, seq=f"{n}-0", event="other" if where == "foreign" else "prop",
                        session=draw(st.sampled_from([None, *[s.id for s in sessions]])), author={"name": author},
                        happened_at=happened, received_at=happened, text=text, key=key, version=1,
                        quote={"text": quote, "speaker": "Speaker Zz0"} if quote else None)  # fmt: skip
        updates[uid] = update
        log.append(_entry(len(log), "update", update))
        facts[uid] = Fact(marker, author, where == "day", key, quote, signoff=signoff)
    for uid in draw(st.lists(st.sampled_from(sorted(facts)), max_size=8)):
        fact = facts[uid]
        if draw(st.booleans()):
            log.append(LogEntry(f"{len(log)}-0", "delete", {"id": uid}))
            fact.deleted = True
        elif not fact.deleted:
            version = updates[uid].version + 1
            marker = f"zq{uid[1:]}v{version}x"
            updates[uid] = updates[uid].model_copy(update={"text": f"Point {marker} revised.", "version": version,
                                                           "key": draw(st.booleans())})  # fmt: skip
            log.append(_entry(len(log), "edit", updates[uid]))
            fact.old.append(fact.marker)
            fact.marker, fact.key, fact.signoff = marker, updates[uid].key, False
    return sessions, log, facts


def _prose(md: str) -> str:
    return re.sub(r"^<!--.*?-->$", "", md, flags=re.M)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(days(), st.integers(min_value=10, max_value=200))
def test_compiled_day_promises(generated: tuple[list[Session], list[LogEntry], dict[str, Fact]], budget: int) -> None:
    sessions, log, facts = generated
    draft = compile_day(EVENT, sessions, log, DAY, word_budget=budget)
    prose = _prose(draft.markdown)
    traced = {i for ids in draft.sources.values() for i in ids}
    live = {uid: f for uid, f in facts.items() if f.in_scope and not f.deleted}
    # No sentence twice: every generated fact's marker at most once, whoever posted it.
    for fact in facts.values():
        assert prose.count(fact.marker + " ") + prose.count(fact.marker + ",") <= 1, fact.marker
        for old in fact.old:
            if all(f.marker != old for f in live.values()):
                assert old not in prose, "an edited update's earlier text appeared"
    # Nothing deleted, foreign or from another local day.
    for uid, fact in facts.items():
        if uid not in live:
            shared = any(f.marker == fact.marker for f in live.values())  # a live copy says the same
            assert uid not in traced or shared
            assert fact.marker not in prose or shared, f"{uid} is deleted or out of scope but appeared"
            if fact.quote:
                assert fact.quote not in prose
    # Every key update and every quote of the day, once.
    for fact in live.values():
        if fact.key:
            assert fact.marker in prose, f"key update {fact.marker} lost"
        if fact.quote:
            assert prose.count(fact.quote) <= 1
    quotes = {f.quote for f in live.values() if f.quote}
    assert all(q in prose for q in quotes)
    # One closing, last, then the byline with every reporter of the day in order of first post.
    blocks = [b.strip() for b in prose.split("\n\n") if b.strip()]
    signoffs = [f.marker for f in live.values() if f.signoff]
    authors = list(dict.fromkeys(facts[u].author for u in sorted(live, key=lambda u: int(u[1:]))))
    closing = blocks[-2] if authors else blocks[-1]
    for marker in signoffs:
        assert marker in closing, f"a sign-off must close the day:\n{draft.markdown}"
    if not signoffs:
        assert closing == "That was day two; Prop Conf went on the next day with day three."
    assert all("thank you for following" not in b for b in blocks[: blocks.index(closing)])
    if authors:
        expected = authors[0] if len(authors) == 1 else ", ".join(authors[:-1]) + " & " + authors[-1]
        assert blocks[-1] == f"Posted by {expected}"
    assert compile_day(EVENT, sessions, log, DAY, word_budget=budget) == draft
