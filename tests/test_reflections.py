"""compile_day against the demo fixture day, plus hypothesis properties on generated logs; pure, no Redis."""

from __future__ import annotations

import datetime as dt
import html as htmllib
import itertools
import json
import re
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clients.demo_day import DAY, EVENT_ID, STEPS, Post, demo_event, demo_log, demo_sessions, update_id
from server.models import Event, Person, Session, SessionKind, Update
from workers.dedupe import is_near_duplicate
from workers.names import Spelling
from workers.post import Draft, blog_posting, markdown_to_html, sources_from_markdown
from workers.reflections import LogEntry, compile_day, fold
from workers.stubs import without_live_prefix
from workers.tense import past_tense

LONDON = ZoneInfo("Europe/London")


@pytest.fixture(scope="module")
def draft() -> Draft:
    return compile_day(demo_event(), demo_sessions(), demo_log(), DAY)


def _final_updates() -> dict[str, Update]:
    """The last version of every surviving update in the demo log, by id."""
    return {item.update.id: item.update for item in fold(demo_log())}


def _day_updates() -> list[Update]:
    event = demo_event()
    return [u for u in _final_updates().values() if u.event == EVENT_ID and event.local_day(u.happened_at) == DAY]


def _norm(text: str) -> str:
    return " ".join(text.split())


def _count_text(md: str, text: str) -> int:
    """Occurrences of ``text`` in the Markdown, ignoring the case of its first letter."""
    body = _norm(text).rstrip(".")
    return _norm(md).count(body[1:])


def told(text: str, names: frozenset[str] = frozenset()) -> str:
    """A key update's text as the post must carry it: the programme's spelling, no live label, past tense."""
    spelling = Spelling(p.name for s in demo_sessions() for p in (*s.speakers, *s.hosts))
    return past_tense(without_live_prefix(spelling.respell(_norm(text))), NAMES | names)


NAMES = frozenset(
    w
    for s in demo_sessions()
    for n in [*(p.name for p in (*s.speakers, *s.hosts)), *(p.organisation or "" for p in (*s.speakers, *s.hosts)),
              *s.participants]
    for w in n.split()
    if w[:1].isupper()
)  # fmt: skip


def _blocks(md: str) -> list[str]:
    return [b.strip() for b in md.split("\n\n") if b.strip()]


def _strip_marker(block: str) -> str:
    return re.sub(r"^<!--.*?-->\n", "", block)


def _sections(md: str) -> dict[str, str]:
    parts = re.split(r"^(?:<!--[^\n]*-->\n)?## (.+)$", md, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


# --- the fixture day ------------------------------------------------------------------------------


def test_fixture_is_big_and_varied_enough() -> None:
    day = _day_updates()
    assert len(day) >= 30
    assert {u.author.name for u in day} == {"Drew", "Howard"}
    assert sum(u.key for u in day) >= 5 and sum(u.quote is not None for u in day) >= 5
    assert any(u.image is not None for u in day)
    assert {s.kind for s in demo_sessions() if s.day == DAY} >= {
        SessionKind.KEYNOTE, SessionKind.PANEL, SessionKind.ROUNDTABLE, SessionKind.BREAKOUT, SessionKind.DEMO,
    }  # fmt: skip
    late = {
        s.ref
        for s in STEPS
        if isinstance(s, Post) and s.at - dt.datetime.fromisoformat(str(s.body["happened_at"])) > dt.timedelta(hours=1)
    }
    assert late == {"p-late"}
    assert [s.at for s in STEPS] == sorted(s.at for s in STEPS)  # `plenary demo` replays them in this order


def test_title(draft: Draft) -> None:
    # The blog title already names the event, so the event is not named twice.
    assert draft.title == "Digital by Default – Live from Connected Councils 2025 – Day 2 Reflections"
    plain = demo_event().model_copy(update={"blog_title": None})
    assert compile_day(plain, demo_sessions(), demo_log(), DAY).title == "Connected Councils 2025 – Day 2 Reflections"
    other = demo_event().model_copy(update={"blog_title": "Digital by Default"})
    assert (
        compile_day(other, demo_sessions(), demo_log(), DAY).title
        == "Digital by Default – Connected Councils 2025 – Day 2 Reflections"
    )
    day_one = compile_day(demo_event(), demo_sessions(), demo_log(), DAY - dt.timedelta(days=1))
    assert day_one.title.endswith(" – Day 1 Reflections")


def test_opening_sets_the_scene(draft: Draft) -> None:
    opening = _strip_marker(_blocks(draft.markdown)[0])
    assert opening.startswith(
        "Day two of Connected Councils 2025 at Manchester Central brought a keynote, a panel, a roundtable, "
        "a breakout session, a workshop, a live demo and a plenary session."
    )
    # Only what was posted before the first session frames the day; chatter (coffee queue, Wi-Fi) is dropped.
    assert draft.sources["p1"] == [update_id("overnight")]
    assert "the local government minister will join today's closing plenary by video link." in opening
    assert "coffee" not in draft.markdown and "Wi-fi" not in draft.markdown
    assert {"update": update_id("doors"), "why": "logistics chatter"} in draft.dropped
    assert {"update": update_id("wifi"), "why": "logistics chatter"} in draft.dropped


def test_sessions_with_updates_in_start_order(draft: Draft) -> None:
    headings = re.findall(r"^## (.+)$", draft.markdown, flags=re.M)
    assert headings == [
        "Ten years of digital by default: what stuck",
        "Sharing platforms without sharing the pain",
        "Joining up data for adult social care",
        "Accessible forms residents actually finish",
        "Booking a bulky-waste collection in 90 seconds",
        "Closing plenary: what councils need from Whitehall",
    ]
    assert "Writing a service standard" not in draft.markdown  # a session without updates
    assert "The money is gone" not in draft.markdown  # day one's session
    reordered = compile_day(demo_event(), list(reversed(demo_sessions())), demo_log(), DAY)
    assert reordered == draft


def test_line_ups_open_with_the_session_and_introduce_each_person_once(draft: Draft) -> None:
    sections = _sections(draft.markdown)
    keynote = sections["Ten years of digital by default: what stuck"]
    assert (
        keynote.split("\n\n")[1]
        .split(". ")[0]
        .endswith(
            "The morning keynote in Exchange Hall came from Helen Okafor of Stockbridge City Council, with Mark "
            "Ellison (Connected Councils) in the chair"
        )
    )
    panel = sections["Sharing platforms without sharing the pain"]
    assert (
        "The morning panel, chaired by Rachel Byrne (Public Service Weekly), brought together Tom Reddy "
        "(North Marsh District Council), Aisha Rahman (Ashdown County Council) and Gareth Lloyd (Common "
        "Platforms Partnership)."
    ) in panel
    roundtable = sections["Joining up data for adult social care"]
    assert (
        "The morning roundtable in Charter Room 2 was hosted by Nadia Kowalski (Ashdown County Council)" in roundtable
    )
    closing = sections["Closing plenary: what councils need from Whitehall"]
    assert "with Mark Ellison in the chair" in closing  # introduced in the keynote: the name alone
    for person in {p.name: p for s in demo_sessions() if s.day == DAY for p in (*s.speakers, *s.hosts)}.values():
        if person.name in draft.markdown:
            assert (
                _norm(draft.markdown).count(f"{person.name} of {person.organisation}")
                + _norm(draft.markdown).count(f"{person.name} ({person.organisation})")
                == 1
            ), person.name


def test_no_name_opens_two_sentences_running(draft: Draft) -> None:
    for block in _blocks(draft.markdown):
        sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z])", _strip_marker(block))
        openers = [s.split()[0] for s in sentences if s.split()]
        for first, second in itertools.pairwise(openers):
            assert not (first == second and first[:1].isupper() and first not in ("The", "A")), (first, block)
    panel = _sections(draft.markdown)["Sharing platforms without sharing the pain"]
    assert (
        "Lloyd argued the sector needs fewer, better-funded common components rather than a new one every year; "
        in panel
    )


def test_later_mentions_by_surname(draft: Draft) -> None:
    keynote = _sections(draft.markdown)["Ten years of digital by default: what stuck"]
    assert "Okafor opened by asking" in keynote and "Helen Okafor opened" not in keynote
    panel = _sections(draft.markdown)["Sharing platforms without sharing the pain"]
    assert "Byrne opened the panel by asking" in panel


def test_past_tense_for_narrative_quotes_untouched(draft: Draft) -> None:
    md = draft.markdown
    for live, past in [("opens by asking", "opened by asking"), ("Most hands go up", "Most hands went up"),
                       ("Okafor says", "Okafor said"), ("Byrne closes by asking", "Byrne closed by asking"),
                       ("the mood is frank", "the mood was frank"), ("Whitfield books", "Whitfield booked"),
                       ("closes the conference and announces", "closed the conference and announced")]:  # fmt: skip
        assert live not in md and past in md, live
    # Unsure stays as written: "Reddy picks bespoke procurement" (picks could be a noun).
    assert "Reddy picks bespoke procurement" in md
    for update in _day_updates():
        if update.quote is not None:
            assert f"> {update.quote.text}" in md  # quotes verbatim


def test_quote_stubs_become_attribution(draft: Draft) -> None:
    md = draft.markdown
    assert "On what digital by default got wrong, Okafor put it this way:\n\n<!-- q1" in md
    assert "As Kowalski put it to the table:" in md
    assert "On testing, Adeyemi put it this way:" in md
    assert "From the floor, Ashdown's Marcus Bell put it this way:" in md
    assert "Rahman was more cautious:" in md  # a sentence of its own stays, in the past tense
    for stub in ("Okafor on what", "Kowalski to the table", "Adeyemi on testing"):
        assert stub not in md


def test_live_labels_go(draft: Draft) -> None:
    assert "Missed earlier" not in draft.markdown
    assert "Lloyd revealed the Common Platforms Partnership will fund a shared booking component" in draft.markdown


def test_updates_follow_happened_at_within_each_section(draft: Draft) -> None:
    updates = _final_updates()
    for block_id, ids in draft.sources.items():
        if not block_id.startswith("s"):
            continue
        times = [updates[i].happened_at for i in ids]
        assert times == sorted(times), block_id
    panel = _sections(draft.markdown)["Sharing platforms without sharing the pain"]
    lloyd, late, floor = (panel.index(t) for t in ("Lloyd argued", "Lloyd revealed", "An audience member"))
    assert lloyd < late < floor  # the late post lands where it happened, not where it was posted


def test_every_key_update_and_quote_appears_exactly_once(draft: Draft) -> None:
    day = _day_updates()
    for update in day:
        if update.key:
            assert _count_text(draft.markdown, told(update.text)) == 1, update.text
        if update.quote is not None:
            assert _count_text(draft.markdown, update.quote.text) == 1, update.quote.text
            quoted = [b for b, ids in draft.sources.items() if b.startswith("q") and ids == [update.id]]
            assert len(quoted) == 1
    assert sum(1 for b in _blocks(draft.markdown) if _strip_marker(b).startswith("> ")) == sum(
        u.quote is not None for u in day
    )


def test_quotes_are_block_quotes_with_attribution(draft: Draft) -> None:
    assert (
        "> We digitised the queue. We never asked why people were queuing in the first place.\n>\n> — Helen Okafor\n"
    ) in draft.markdown
    assert "> Accessibility isn't a phase. It's the job.\n>\n> — Marcus Bell\n" in draft.markdown
    assert "<p>— Joan Marsh</p>" in draft.html


def test_photos_keep_caption_and_alt(draft: Draft) -> None:
    figures = re.findall(r"<figure[^>]*>.*?</figure>", draft.html, re.S)
    assert len(figures) == 2
    hall = next(f for f in figures if "keynote-hall.jpg" in f)
    assert 'data-updates="u-k-photo"' in hall
    assert "alt=\"A woman speaks at a lectern in front of a large audience and a slide reading 'Ask why'\"" in hall
    assert "<figcaption>Helen Okafor on stage in a full Exchange Hall</figcaption>" in hall
    demo = next(f for f in figures if "bulky-waste-demo.jpg" in f)
    assert "<figcaption>Sam Whitfield's phone on the big screen, mid-booking</figcaption>" in htmllib.unescape(demo)


def test_deleted_edited_and_repeated_updates(draft: Draft) -> None:
    everywhere = draft.markdown + draft.html + json.dumps(draft.sources)
    assert "320 forms" not in everywhere and update_id("k-wrong") not in everywhere  # deleted
    assert "by April" in draft.markdown and "by March" not in everywhere  # edited: last version only
    assert draft.markdown.count("38%") == 1  # a reporter repeating the point appears once
    assert update_id("p-repeat") not in everywhere and update_id("p-reddy") in draft.sources["s2"]


def test_other_days_and_events_never_appear(draft: Draft) -> None:
    everywhere = draft.markdown + draft.html + json.dumps(draft.sources)
    for text in ("Fenland", "housing register", "David Osei", "Drinks reception"):
        assert text not in everywhere
    for ref in ("other-event", "d1-osei", "d1-drinks"):
        assert update_id(ref) not in everywhere
    # 00:20 in London on day two is still day one in UTC: it belongs to day two.
    assert update_id("overnight") in draft.sources["p1"]


def test_script_never_reaches_the_post(draft: Draft) -> None:
    wifi = next(u for u in _day_updates() if u.id == update_id("wifi"))
    key = wifi.model_copy(update={"key": True})  # key, so not dropped as chatter
    log = [*demo_log(), LogEntry("9999999999998-0", "edit", key.model_dump(mode="json") | {"version": 2})]
    compiled = compile_day(demo_event(), demo_sessions(), log, DAY)
    for text in (compiled.markdown, compiled.html):
        assert "<script" not in text.lower() and "alert(1)" not in text
    assert "Wi-fi was back in the Exchange Hall after a lunchtime outage." in compiled.html


def test_links_and_emphasis_in_updates_survive(draft: Draft) -> None:
    assert (
        '<a href="https://design-system.service.gov.uk/patterns/" rel="nofollow noopener">its form patterns</a> '
        "as a <em>starting point</em>"
    ) in draft.html


def test_closing_line_and_byline(draft: Draft) -> None:
    blocks = [_strip_marker(b) for b in _blocks(draft.markdown)]
    assert blocks[-2] == "That brought Connected Councils 2025 to a close."  # generated: no reporter signed off
    assert blocks[-1] == "Posted by Drew & Howard"
    assert draft.html.rstrip().endswith(">Posted by Drew &amp; Howard</p>")
    assert draft.authors == ["Drew", "Howard"]
    day_one = compile_day(demo_event(), demo_sessions(), demo_log(), DAY - dt.timedelta(days=1))
    assert _strip_marker(_blocks(day_one.markdown)[-2]) == (
        "That was day one; Connected Councils 2025 went on the next day with day two."
    )
    assert _strip_marker(_blocks(day_one.markdown)[-1]) == "Posted by Drew & Howard"
    assert "Drinks reception" not in day_one.markdown and "minister" not in day_one.markdown


def test_byline_orders_reporters_by_first_post_and_joins_three() -> None:
    event = demo_event()
    log = [*demo_log(), _entry("zz-1", "Asha", "Late note from Asha.", DAY, 7, 0, seq="9999999999999-0")]
    draft = compile_day(event, demo_sessions(), log, DAY)
    assert _strip_marker(_blocks(draft.markdown)[-1]) == "Posted by Drew, Howard & Asha"  # Asha posted last
    single = compile_day(
        event, demo_sessions(), [e for e in demo_log() if e.data.get("author") != {"name": "Howard"}], DAY
    )
    assert _strip_marker(_blocks(single.markdown)[-1]) == "Posted by Drew"


def test_sources_cover_every_traced_block_and_point_at_real_updates(draft: Draft) -> None:
    real = {u.id for u in _day_updates()}
    markers = re.findall(r"^<!-- (\w+) updates: ([^ ]+) -->$", draft.markdown, flags=re.M)
    assert {block: ids.split(",") for block, ids in markers} == draft.sources
    assert sources_from_markdown(draft.markdown) == draft.sources
    for ids in draft.sources.values():
        assert ids and set(ids) <= real
    in_html = dict(re.findall(r'data-updates="([^"]+)" data-block="(\w+)"', draft.html))
    assert {block: ids.split() for ids, block in in_html.items()} == draft.sources
    for tag, block in re.findall(r'<(\w+) data-updates="[^"]+" data-block="(\w+)"', draft.html):
        assert tag == {"s": "h2", "p": "p", "q": "blockquote", "i": "figure"}[block[0]]
    untraced = [b for b in _blocks(draft.markdown) if not b.startswith("<!--")]
    assert untraced == ["That brought Connected Councils 2025 to a close."]
    # every update the post does not show is listed as merged or dropped, for the editor to put back
    hidden = real - {i for ids in draft.sources.values() for i in ids}
    listed = {u for m in draft.merged for u in m["updates"]} | {d["update"] for d in draft.dropped}  # type: ignore[attr-defined]
    assert hidden == listed == {update_id("p-repeat"), update_id("doors"), update_id("wifi")}


def test_markdown_renders_to_the_draft_html(draft: Draft) -> None:
    assert markdown_to_html(draft.markdown) == draft.html
    edited = draft.markdown.replace("Most hands went up.", "Almost every hand went up.")
    assert '<p data-updates="u-k-hands u-k-forms u-k-queue" data-block="p2">' in markdown_to_html(edited)
    assert "Almost every hand went up." in markdown_to_html(edited)


def test_jsonld(draft: Draft) -> None:
    doc = draft.jsonld
    assert doc["@context"] == "https://schema.org" and doc["@type"] == "BlogPosting"
    assert doc["headline"] == draft.title
    assert doc["author"] == [{"@type": "Person", "name": "Drew"}, {"@type": "Person", "name": "Howard"}]
    assert doc["about"] == {
        "@type": "Event",
        "name": "Connected Councils 2025",
        "location": {"@type": "Place", "name": "Manchester Central"},
        "startDate": "2025-10-08",
        "endDate": "2025-10-09",
    }
    assert "datePublished" not in doc
    json.dumps(doc)
    published = dt.datetime(2025, 10, 9, 18, 0, tzinfo=LONDON)
    full = blog_posting(draft.title, draft.authors, demo_event(), date_published=published,
                        date_modified=published, article_body="Body")  # fmt: skip
    assert full["datePublished"] == full["dateModified"] == "2025-10-09T18:00:00+01:00"
    assert full["articleBody"] == "Body"


def test_draft_fields(draft: Draft) -> None:
    assert draft.event == EVENT_ID and draft.day == DAY


def test_deterministic(draft: Draft) -> None:
    def entries() -> Iterator[LogEntry]:
        yield from demo_log()

    again = compile_day(demo_event(), demo_sessions(), entries(), DAY)
    assert again == draft
    assert again.markdown == draft.markdown and again.html == draft.html


def test_condensing_keeps_key_updates_and_quotes_within_budget() -> None:
    budget = 25
    draft = compile_day(demo_event(), demo_sessions(), demo_log(), DAY, word_budget=budget)
    full = compile_day(demo_event(), demo_sessions(), demo_log(), DAY)
    assert len(draft.markdown.split()) < len(full.markdown.split())
    for update in _day_updates():
        if update.key:
            assert _count_text(draft.markdown, told(update.text)) == 1
        if update.quote is not None:
            assert _count_text(draft.markdown, update.quote.text) == 1
    plain = [u for u in _day_updates() if not (u.key or u.quote or u.image) and u.id != update_id("p-repeat")]
    dropped = [u for u in plain if _count_text(draft.markdown, told(u.text).split(". ")[0]) == 0]
    assert dropped, "a 25-word budget must drop some plain updates"
    panel_sources = set(draft.sources["s2"])
    panel_plain = [u for u in plain if u.id in panel_sources and _count_text(draft.markdown, told(u.text))]
    assert sum(len(u.text.split()) for u in panel_plain) <= budget


def test_day_outside_the_event_is_refused() -> None:
    with pytest.raises(ValueError, match="not a day"):
        compile_day(demo_event(), demo_sessions(), demo_log(), DAY + dt.timedelta(days=1))


def test_near_duplicate_threshold() -> None:
    assert is_near_duplicate(["shared", "platform", "cut", "costs"], ["shared", "platform", "cut", "costs", "38"])
    assert not is_near_duplicate(["shared", "platform", "cut", "costs"], ["coffee", "queue", "long", "costs"])
    assert not is_near_duplicate([], [])


# --- properties on generated logs --------------------------------------------------------------------

PROP_EVENT = Event(id="prop", title="Prop Conf", venue="Hall", timezone="Europe/London",
                   starts_on=dt.date(2025, 3, 29), ends_on=dt.date(2025, 3, 31))  # fmt: skip
PROP_DAY = dt.date(2025, 3, 30)  # the day the clocks go forward in London
_seq = iter(range(10**9))


def _entry(uid: str, author: str, text: str, day: dt.date, hour: int, minute: int, *, seq: str | None = None,
           event: str = EVENT_ID, session: str | None = None, key: bool = False, quote: str | None = None,
           kind: str = "update", version: int = 1) -> LogEntry:  # fmt: skip
    happened = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)
    update = Update(
        id=uid, seq=seq or f"{next(_seq)}-0", event=event, session=session, author={"name": author},
        happened_at=happened, received_at=happened, text=text, key=key, version=version,
        quote={"text": quote, "speaker": "Speaker 0"} if quote else None,
    )  # fmt: skip
    return LogEntry(update.seq, kind, update.model_dump(mode="json"))


_FILLER = ["budget", "roads", "housing", "data", "cloud", "forms", "care", "bins", "libraries", "parking"]


@st.composite
def generated_days(draw: st.DrawFn) -> tuple[list[Session], list[LogEntry], dict[str, dict[str, object]]]:
    """Sessions and a log with updates (some key, some quotes) on several days and events, edits and deletes.

    Returns the facts about each update id: its final markers and whether it should be in the post.
    """
    n_sessions = draw(st.integers(1, 5))
    sessions = []
    for i in range(n_sessions):
        starts = dt.datetime(
            2025, 3, 30, draw(st.integers(8, 17)), draw(st.sampled_from([0, 15, 30, 45])), tzinfo=LONDON
        )
        sessions.append(Session(id=f"s{i}", event="prop", title=f"Session number {i}", day=PROP_DAY,
                                kind=draw(st.sampled_from(list(SessionKind))), starts_at=starts,
                                speakers=[Person(name=f"Speaker {i}", role="Lead", organisation="Org")]))  # fmt: skip
    log: list[LogEntry] = []
    facts: dict[str, dict[str, object]] = {}
    n_updates = draw(st.integers(1, 30))
    for n in range(n_updates):
        where = draw(st.sampled_from(["day", "day", "day", "day", "before", "after", "foreign"]))
        day = {"before": PROP_DAY - dt.timedelta(days=1), "after": PROP_DAY + dt.timedelta(days=1)}.get(where, PROP_DAY)
        session = draw(st.sampled_from([None, *[s.id for s in sessions]]))
        key, has_quote = draw(st.booleans()), draw(st.booleans())
        words = " ".join(draw(st.lists(st.sampled_from(_FILLER), min_size=1, max_size=6)))
        text, quote = f"Point zq{n}x about {words}.", (f"Quote zq{n}q on {words}." if has_quote else None)
        uid = f"u{n}"
        author, hour, minute = (
            draw(st.sampled_from(["Drew", "Howard", "Asha"])),
            draw(st.integers(0, 23)),
            draw(st.integers(0, 59)),
        )
        event = "other" if where == "foreign" else "prop"
        log.append(_entry(uid, author, text, day, hour, minute, event=event, session=session, key=key, quote=quote))
        facts[uid] = {"markers": [f"zq{n}x"], "in_scope": where == "day", "deleted": False}
        if quote:
            facts[uid]["markers"] = [f"zq{n}x", f"zq{n}q"]
    # The same update may be edited and deleted in any order, even edited after its delete.
    for uid in draw(st.lists(st.sampled_from(sorted(facts)), max_size=10)):
        data = dict(next(e.data for e in reversed(log) if e.type != "delete" and e.data.get("id") == uid))
        if draw(st.booleans()):
            log.append(LogEntry(f"{next(_seq)}-0", "delete", {"id": uid}))
            facts[uid]["deleted"] = True
        else:
            version = int(str(data["version"])) + 1
            marker = f"zq{uid[1:]}v{version}x"
            data.update(text=f"Point {marker} revised.", key=draw(st.booleans()), version=version)
            log.append(LogEntry(f"{next(_seq)}-0", "edit", data))
            markers: list[str] = facts[uid]["markers"]  # type: ignore[assignment]
            facts[uid]["old"] = [*facts[uid].get("old", []), markers[0]]  # type: ignore[misc]
            facts[uid]["markers"] = [marker, *markers[1:]]
    return sessions, log, facts


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated_days(), st.integers(min_value=5, max_value=200))
def test_compile_invariants(generated: tuple[list[Session], list[LogEntry], dict[str, dict[str, object]]],
                            budget: int) -> None:  # fmt: skip
    sessions, log, facts = generated
    draft = compile_day(PROP_EVENT, sessions, log, PROP_DAY, word_budget=budget)
    final = {item.update.id: item.update for item in fold(log)}
    everywhere = draft.markdown + draft.html
    traced = {i for ids in draft.sources.values() for i in ids}
    for uid, fact in facts.items():
        markers: list[str] = fact["markers"]  # type: ignore[assignment]
        for old in fact.get("old", []):  # type: ignore[attr-defined]
            assert old not in everywhere, "an edited update's earlier text appeared"
        if fact["deleted"] or not fact["in_scope"]:
            assert uid not in traced
            for marker in markers:
                assert marker not in everywhere, f"{uid} is deleted or out of scope but appeared"
            continue
        update = final[uid]
        if update.key:
            assert draft.markdown.count(markers[0]) == 1, f"key update {uid} must appear exactly once"
        if update.quote is not None:
            assert draft.markdown.count(markers[1]) == 1, f"quote of {uid} must appear exactly once"
            assert re.search(rf"^> Quote {markers[1]} ", draft.markdown, flags=re.M)
    in_order = [s.title for s in sorted(sessions, key=lambda s: (s.starts_at, s.id))]
    headings = re.findall(r"^## (.+)$", draft.markdown, flags=re.M)
    assert headings == [t for t in in_order if t in headings]
    assert compile_day(PROP_EVENT, sessions, log, PROP_DAY, word_budget=budget) == draft
