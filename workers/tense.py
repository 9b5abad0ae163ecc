"""Live present tense to narrative past ("opens" -> "opened") through lemminflect, quotes untouched; pure.

A live blog says "Okafor says"; a post written after the day says "Okafor said". Words are inflected by
lemminflect's data, never a hand list of verbs. Without a part-of-speech tagger, a word is changed only
where its neighbours make it a finite verb beyond doubt; anywhere else it is left as the reporter wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import lru_cache

import lemminflect

__all__ = ["past_tense"]

_TOKEN_RE = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ][\w'’-]*|\S")
# Spans a reporter quoted: double quotes, curly quotes, and single quotes that open after a space.
_QUOTED_RE = re.compile(r"\"[^\"]*\"|“[^”]*”|(?<![\w'’])['‘][^'’]*['’](?![\w])")
# fmt: off
_PRONOUNS = frozenset({"he", "she", "it", "they", "we", "i", "you", "who", "nobody", "everyone", "someone",
                       "everybody", "somebody", "one"})
_PLURAL_PRONOUNS = frozenset({"they", "we", "i", "you", "who"})
_NOT_SUBJECTS = frozenset({"a", "an", "the", "to", "its", "their", "his", "her", "our", "my", "your", "of",
                           "in", "on", "for", "with", "by", "at", "from", "this", "that", "these", "those",
                           "every", "each", "some", "no", "any", "and", "or", "but", "not", "than", "as",
                           "most", "many", "more", "all", "both", "online"})
_ADVERBS = frozenset({"still", "also", "now", "often", "never", "only", "then", "always", "already", "even",
                      "just", "rarely", "again"})
# Words after which a verb reading is clear: the start of its object or complement.
_OBJECT_STARTS = frozenset({"a", "an", "the", "to", "by", "on", "in", "for", "with", "his", "her",
                            "its", "their", "our", "how", "whether", "what", "why", "who", "each", "every",
                            "all", "some", "up", "out", "off", "into", "about", "it", "them", "him", "us",
                            "this", "those", "these", "one", "two", "three", "four", "five", "under",
                            "through", "around", "across", "over"})
_DETERMINERS = frozenset({"the", "a", "an", "this", "that", "its", "their", "our", "his", "her", "every", "each"})
_UNCHANGED = frozenset({"can", "will", "may", "must", "shall", "should", "would", "could", "might", "need",
                        "dare", "ought", "let", "lets", "s", "up", "down", "out", "off", "back", "in", "on"})
# fmt: on


@lru_cache(maxsize=16384)
def _lemmas(word: str) -> dict[str, tuple[str, ...]]:
    lemmas: dict[str, tuple[str, ...]] = lemminflect.getAllLemmas(word)
    return lemmas


@lru_cache(maxsize=16384)
def _readings(word: str) -> tuple[str | None, bool]:
    """(lemma if ``word`` is a present-tense verb form (VBZ or VBP), whether it can also be a noun)."""
    lemmas = _lemmas(word)
    verbs = lemmas.get("VERB") or lemmas.get("AUX")
    if not verbs:
        return None, False
    lemma = verbs[0]
    forms = {*lemminflect.getInflection(lemma, tag="VBZ"), *lemminflect.getInflection(lemma, tag="VBP")}
    if word not in forms:
        return None, False
    return lemma, "NOUN" in lemmas or "ADJ" in lemmas


@lru_cache(maxsize=8192)
def _past(word: str, lemma: str) -> str | None:
    if lemma == "be":
        return {"is": "was", "are": "were", "am": "was"}.get(word)
    forms = lemminflect.getInflection(lemma, tag="VBD")
    return forms[0] if forms else None


def _is_name(tokens: list[str], i: int, names: Collection[str]) -> bool:
    word = tokens[i]
    if not word[:1].isupper():
        return False
    if word in names or re.sub(r"['’]s$", "", word) in names:
        return True
    return i > 0 or not _lemmas(word.lower())


def _subject_before(tokens: list[str], i: int) -> int | None:
    """Index of the word before ``i``, skipping one adverb ("Most hands still go")."""
    j = i - 1
    if j >= 0 and tokens[j].lower() in _ADVERBS:
        j -= 1
    return j if j >= 0 and tokens[j][:1].isalpha() else None


def _convert(tokens: list[str], i: int, names: Collection[str], after_verb: bool) -> str | None:
    """The past form of ``tokens[i]`` when it is beyond doubt a live finite verb, else None.

    ``after_verb``: a verb earlier in the same clause was changed, so "and <verb>" continues it.
    """
    word = tokens[i]
    if i == 0 or not word.islower() or word in _UNCHANGED:
        return None
    lemma, ambiguous = _readings(word)
    if lemma is None:
        return None
    j = _subject_before(tokens, i)
    if j is None:
        return None
    prev = tokens[j]
    lower = prev.lower()
    after = tokens[i + 1].lower() if i + 1 < len(tokens) else ""
    clear_object = after in _OBJECT_STARTS
    if lower in _UNCHANGED or lower in ("do", "does", "did", "not", "to"):
        return None
    if lower == "and" and after_verb and (not ambiguous or clear_object):
        return _past(word, lemma)
    if word.endswith("s") and word != lemma:  # third person singular
        if lower in _PRONOUNS - _PLURAL_PRONOUNS:
            return _past(word, lemma)
        if _is_name(tokens, j, names):
            return _past(word, lemma) if not ambiguous or clear_object else None
        if lower in _NOT_SUBJECTS or (_readings(lower)[0] is not None and lower.endswith("s")):
            return None
        if not ambiguous or (clear_object and j > 0 and tokens[j - 1].lower() in _DETERMINERS):
            return _past(word, lemma)
        return None
    if lemma == "be" and word != "are":
        return None
    plural_noun = lower.endswith("s") and "NOUN" in _lemmas(lower) and lower not in _NOT_SUBJECTS
    compound = _is_name(tokens, j, names) and j >= 2 and tokens[j - 1] == "and"
    if lower in _PLURAL_PRONOUNS or compound:
        return _past(word, lemma)
    if plural_noun and (clear_object or not (ambiguous or after.isalpha())):
        return _past(word, lemma)
    return None


def _past_plain(text: str, names: Collection[str]) -> str:
    matches = list(_TOKEN_RE.finditer(text))
    tokens = [m.group(0) for m in matches]
    out, last = [], 0
    after_verb = False
    for i, match in enumerate(matches):
        if tokens[i] in (";", ":"):
            after_verb = False
        word = tokens[i]
        if not (i and word.islower() and _readings(word)[0] is not None):
            continue  # most words are no live verb: skip the context checks
        past = _convert(tokens, i, names, after_verb)
        if past is not None:
            out += [text[last : match.start()], past]
            last = match.end()
            after_verb = True
    return "".join(out) + text[last:]


def past_tense(sentence: str, names: Collection[str] = ()) -> str:
    """``sentence`` with its live present-tense verbs in the past tense; quoted spans never change.

    ``names`` are capitalised words known to be names (from the programme), which mark a subject.
    Each clause is converted on its own, so "Okafor says X; the room agrees" changes both verbs.
    """
    out, last = [], 0
    for quoted in _QUOTED_RE.finditer(sentence):
        out += [_past_plain(sentence[last : quoted.start()], names), quoted.group(0)]
        last = quoted.end()
    out.append(_past_plain(sentence[last:], names))
    return "".join(out)
