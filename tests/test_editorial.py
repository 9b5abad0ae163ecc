"""The editorial rules' small modules on their own: tense, spelling, stubs, chatter, repeats, title; pure."""

from __future__ import annotations

import datetime as dt

from server.models import Event
from workers.classify import is_logistics, is_signoff
from workers.dedupe import Candidate, find_repeats
from workers.names import Spelling
from workers.stubs import attribution, without_live_prefix
from workers.tense import past_tense
from workers.title import post_title


def test_past_tense_changes_live_verbs_and_nothing_in_quotes() -> None:
    assert past_tense("Glyn likens AI to electricity.") == "Glyn likened AI to electricity."
    assert past_tense("Jamie takes the stage and says hello.") == "Jamie took the stage and said hello."
    assert past_tense('She says "the queue is long" and it is.') == 'She said "the queue is long" and it was.'
    assert past_tense("Most hands go up.") == "Most hands went up."
    # Unsure: a noun reading ("online forms"), a modal, an infinitive: left as written.
    assert past_tense("It closed 140 of its online forms.") == "It closed 140 of its online forms."
    assert past_tense("Councils can plan and will publish.") == "Councils can plan and will publish."
    assert past_tense("Nobody wants to answer.") == "Nobody wanted to answer."


def test_names_spelt_as_in_the_programme() -> None:
    spelling = Spelling(["Tomás Ortega", "Lucy Tan"])
    assert spelling.respell("tomás ortega says ortega agrees") == "Tomás Ortega says Ortega agrees"
    assert spelling.respell("TOMAS ORTEGA and tan suits") == "Tomás Ortega and tan suits"  # "tan" is a word
    assert spelling.respell("Tan agrees; tangible") == "Tan agrees; tangible"


def test_stubs_become_attribution_or_go() -> None:
    assert attribution("Glyn on hype:", "Glyn Evans") == "On hype, Glyn Evans put it this way:"
    assert attribution("Jamie's claim:", "Jamie") == "As Jamie put it:"
    assert attribution("Kowalski to the table", "Kowalski") == "As Kowalski put it to the table:"
    assert attribution("Big moment", None) == ""  # a stub with no one to attribute: it goes
    assert attribution("Rahman is more cautious", "Rahman") is None  # a sentence of its own
    assert without_live_prefix("Missed earlier: Lloyd revealed a fund.") == "Lloyd revealed a fund."


def test_signoffs_and_chatter() -> None:
    assert is_signoff("That is the end of day two, thank you for following.")
    assert is_signoff("We're back tomorrow from 9.")
    assert not is_signoff("Okafor thanks the organisers.")
    assert is_logistics("The queue for coffee is longer than the one for registration.")
    assert is_logistics("Wi-Fi is back.")
    assert not is_logistics("Okafor says call volumes fell by a fifth.")


def test_repeats_by_containment_and_similarity_keep_the_fuller() -> None:
    short = Candidate(("north", "marsh", "cut", "running", "costs"))
    full = Candidate(("tom", "reddy", "north", "marsh", "cut", "running", "costs", "38"))
    other = Candidate(("coffee", "queue", "long"))
    assert find_repeats([short, full, other]) == {0: 1}  # contained: the fuller stays, even when later
    assert find_repeats([full, short]) == {1: 0}
    key_short = Candidate(short.tokens, protected=True)
    assert find_repeats([key_short, full]) == {1: 0}  # a key update is never the one folded away
    reworded = Candidate(("marsh", "north", "running", "costs", "cut", "third"))
    assert find_repeats([reworded, short]) == {1: 0}  # similar (Jaccard 5/6), in the same section
    assert find_repeats([reworded, Candidate(short.tokens, group="elsewhere")]) == {}  # not across sections
    assert find_repeats([Candidate(short.tokens, group="a"), Candidate(short.tokens, group="b")]) == {1: 0}


def test_title_names_the_event_once() -> None:
    event = Event(id="e", title="Glasgow Tech Week", timezone="Europe/London", starts_on=dt.date(2025, 6, 2),
                  ends_on=dt.date(2025, 6, 4), blog_title="The Daily Byte")  # fmt: skip
    assert post_title(event, dt.date(2025, 6, 3)) == "The Daily Byte – Glasgow Tech Week – Day 2 Reflections"
    named = event.model_copy(update={"blog_title": "Live from Glasgow Tech Week"})
    assert post_title(named, dt.date(2025, 6, 2)) == "Live from Glasgow Tech Week – Day 1 Reflections"
