"""The editorial rules on the second demo day (clients/demo_day2.py): a Toronto summit with three reporters,
one of them typing in lower case, a moderated panel, parallel breakouts, lunch and an evening session that
falls after UTC midnight; pure, no Redis."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from clients import demo_day2 as d2
from clients.demo_day import Post, demo_event, demo_log, demo_sessions, update_id
from server.models import Update
from workers.length import MAX_RATIO, post_words, update_words
from workers.post import Draft
from workers.reflections import compile_day, fold


def _sessions() -> list:  # type: ignore[type-arg]
    return demo_sessions(d2.SESSIONS, "America/Toronto")


@pytest.fixture(scope="module")
def draft() -> Draft:
    return compile_day(demo_event(d2.EVENT), _sessions(), demo_log(d2.STEPS, _sessions()), d2.DAY)


def _day_updates() -> list[Update]:
    event = demo_event(d2.EVENT)
    return [
        i.update
        for i in fold(demo_log(d2.STEPS, _sessions()))
        if i.update.event == d2.EVENT_ID and event.local_day(i.update.happened_at) == d2.DAY
    ]


def _plain(md: str) -> str:
    return " ".join(re.sub(r"<!--.*?-->", "", md).split())


def _sections(md: str) -> dict[str, str]:
    parts = re.split(r"^(?:<!--[^\n]*-->\n)?## (.+)$", md, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_the_fixture_is_unlike_the_first() -> None:
    day = _day_updates()
    assert {u.author.name for u in day} == set(d2.REPORTERS) and len(d2.REPORTERS) == 3
    assert any(len(u.text.split()) > 80 for u in day)  # a long update
    assert any(u.text[:1].islower() for u in day)  # the reporter who types in lower case
    night = [u for u in day if u.session == "night-shift"]
    assert night and all(u.happened_at.astimezone(dt.UTC).date() == d2.DAY + dt.timedelta(days=1) for u in night)
    moved = next(u for u in day if u.id == update_id("b2-audit"))
    assert moved.session == "breakout-transit" and moved.version == 2
    assert any(isinstance(s, Post) and s.ref == "p-wrong" for s in d2.STEPS)


def test_title_names_blog_event_and_day(draft: Draft) -> None:
    assert draft.title == "The Civic Desk – Open Cities Summit 2026 – Day 1 Reflections"


def test_opening_frames_the_day_with_what_came_before_the_first_session(draft: Draft) -> None:
    opening = _plain(draft.markdown).split(" ## ")[0]
    assert opening.startswith("Day one of Open Cities Summit 2026 at Metro Toronto Convention Centre brought")
    assert "1,400 delegates from 60 cities" in opening
    assert draft.sources["p1"] == [update_id("welcome")]
    assert "coffee" not in _plain(draft.markdown).lower()  # chatter dropped


def test_the_evening_after_utc_midnight_belongs_to_the_local_day(draft: Draft) -> None:
    night = _sections(draft.markdown)["Night shift: the city after dark"]
    assert "Mensah announced a pilot of all-night buses on three routes from September." in night
    assert "Streets for people" not in draft.markdown and "Fischer" not in draft.markdown  # the next day
    assert "bus networks" not in draft.markdown  # another event


def test_one_closing_the_reporters_sign_off_last(draft: Draft) -> None:
    blocks = [b for b in draft.markdown.strip().split("\n\n")]
    closing = re.sub(r"^<!--.*?-->\n", "", blocks[-2])
    assert closing == "That's all from day one of Open Cities, thank you for following. We're back tomorrow at 9am."
    assert _plain(draft.markdown).count("thank you for following") == 1
    assert "to a close" not in draft.markdown and "went on the next day" not in draft.markdown
    assert re.sub(r"^<!--.*?-->\n", "", blocks[-1]) == "Posted by Ana, Chloé & Ben"


def test_lower_case_reporter_spelt_as_in_the_programme(draft: Draft) -> None:
    md = _plain(draft.markdown)
    assert "Grace Liu said Port Alder now published every sensor feed within a day" in md
    assert "Ortega opened with a story about a pothole" in md
    assert "tomás" not in md and "grace liu" not in md and "port alder" not in md
    for sentence in re.split(r"(?<=[.!?:])\s+", _plain(re.sub(r"^## .*$", "", draft.markdown, flags=re.M))):
        assert not sentence[:1].islower(), sentence


def test_repeats_across_reporters_fold_into_the_fuller(draft: Draft) -> None:
    md = _plain(draft.markdown)
    assert md.count("1.2 million calls") == 1 and md.count("every dataset held about their street") == 1
    assert {"into": update_id("k-calls"), "updates": [update_id("k-calls-dup")]} in draft.merged
    assert {"into": update_id("p-kelly"), "updates": [update_id("p-kelly-again")]} in draft.merged
    assert {"update": update_id("lunch"), "why": "logistics chatter"} in draft.dropped


def test_panel_moderator_introduced_once_and_by_surname_after(draft: Draft) -> None:
    md = _plain(draft.markdown)
    assert "chaired by Priya Natarajan (" in md  # her role too when the length rule allows
    assert md.count("Civic Ledger") == 1  # chaired the night session too: the name alone there
    assert "Natarajan opened the panel" in md and "Natarajan closed by asking" in md
    assert "with Priya Natarajan in the chair" in md


def test_parallel_breakouts_keep_their_headings_with_a_link_clause(draft: Draft) -> None:
    headings = re.findall(r"^## (.+)$", draft.markdown, flags=re.M)
    assert headings == ["Cities that answer the phone", "Who owns the city's data?", "Procurement without the pain",
                        "Transit apps everyone can use", "Night shift: the city after dark"]  # fmt: skip
    transit = _sections(draft.markdown)["Transit apps everyone can use"]
    assert "Meanwhile, in Room 202, the morning breakout was led by Amir Haddad" in transit
    assert "Meanwhile" not in _sections(draft.markdown)["Procurement without the pain"]


def test_moved_edited_and_deleted_updates(draft: Draft) -> None:
    sections = _sections(draft.markdown)
    assert "blind riders" in sections["Transit apps everyone can use"]
    assert "blind riders" not in sections["Procurement without the pain"]
    assert "eight weeks" in draft.markdown and "six weeks" not in draft.markdown
    assert "ban all sensors" not in draft.markdown and update_id("p-wrong") not in str(draft.sources)


def test_stubs_quotes_and_photo(draft: Draft) -> None:
    md = _plain(draft.markdown)
    assert "On the city's 311 line, Ortega put it this way:" in md
    assert "As Kelly put it:" in md and "kelly's verdict" not in md
    assert "As Mensah put it:" in md and "As Haddad put it to the room:" in md
    for update in _day_updates():
        if update.quote is not None:
            assert md.count(update.quote.text) == 1
    assert "<figcaption>Tomás Ortega in front of Port Alder" in draft.html
    assert 'alt="A man points at a projected city map covered in coloured request pins"' in draft.html


def test_the_long_update_is_kept_and_the_post_is_not_padded(draft: Draft) -> None:
    md = _plain(draft.markdown)
    assert "a team of nine, most of them hired from the city's own frontline staff" in md
    assert post_words(draft.markdown) <= MAX_RATIO * update_words(_day_updates())
