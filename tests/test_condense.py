"""Extractive condensing: budget, must-keep, order, determinism and relevance."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from workers.condense import condense, split_sentences, tokens, word_count

SENTENCES = [
    "Shared platforms cut running costs for three councils this year.",
    "The coffee queue was long.",
    "Running costs on the shared planning platform fell by a third.",
    "Councils sharing a platform also share the costs of running it.",
    "Someone's phone rang twice during the panel.",
    "A shared platform needs a shared roadmap, says the panel.",
    "The lights in the hall flickered briefly.",
    "Finance directors must agree platform costs before councils can share.",
]


def test_everything_fits_so_everything_is_kept() -> None:
    assert condense(SENTENCES, 10_000) == list(range(len(SENTENCES)))


def test_result_fits_the_budget_and_keeps_order() -> None:
    chosen = condense(SENTENCES, 25)
    assert chosen == sorted(chosen)
    assert 0 < sum(word_count(SENTENCES[i]) for i in chosen) <= 25


def test_on_topic_sentences_beat_asides() -> None:
    chosen = condense(SENTENCES, 25)
    asides = {1, 4, 6}
    assert not asides & set(chosen), [SENTENCES[i] for i in chosen]


def test_must_keep_is_kept_even_past_the_budget() -> None:
    chosen = condense(SENTENCES, 5, keep=[4, 6])
    assert chosen == [4, 6]
    chosen = condense(SENTENCES, 30, keep=[1])
    assert 1 in chosen
    assert sum(word_count(SENTENCES[i]) for i in chosen) <= 30


def test_redundant_near_copies_are_not_both_chosen() -> None:
    sentences = [
        "Platform costs fell by a third after sharing.",
        "Platform costs fell by a third after sharing, again.",
        "Residents now finish forms faster on their phones.",
        "The queue for coffee was long.",
    ]
    chosen = condense(sentences, 17)
    assert not {0, 1} <= set(chosen)
    assert 2 in chosen


def test_deterministic() -> None:
    assert condense(SENTENCES, 30, keep=[2]) == condense(list(SENTENCES), 30, keep=(2,))


def test_split_sentences() -> None:
    assert split_sentences("Dr. Jones spoke. Then Cllr. Smith replied! Was it 3.5%? Yes.") == [
        "Dr. Jones spoke.",
        "Then Cllr. Smith replied!",
        "Was it 3.5%?",
        "Yes.",
    ]
    assert split_sentences('He said "no." Then left.') == ['He said "no."', "Then left."]
    assert split_sentences("  lower case. continues here  ") == ["lower case. continues here"]
    assert split_sentences(" \n ") == []


def test_tokens_drop_stopwords_and_possessives() -> None:
    assert tokens("The council's budget and the Council budget") == ["council", "budget", "council", "budget"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.text(alphabet="abcdefg .", min_size=1, max_size=40).filter(str.strip), max_size=25),
    st.integers(min_value=0, max_value=80),
    st.data(),
)
def test_condense_properties(sentences: list[str], budget: int, data: st.DataObject) -> None:
    keep = data.draw(st.sets(st.integers(0, max(len(sentences) - 1, 0))) if sentences else st.just(set[int]()))
    chosen = condense(sentences, budget, keep=keep)
    assert chosen == sorted(set(chosen))
    assert keep <= set(chosen)
    extra = sum(word_count(sentences[i]) for i in chosen if i not in keep)
    kept_words = sum(word_count(sentences[i]) for i in keep)
    assert extra <= max(budget - kept_words, 0) or sum(word_count(s) for s in sentences) <= budget
    assert chosen == condense(sentences, budget, keep=keep)
