"""Extractive condensing: score sentences against their TF-IDF centroid and keep the best within a word budget."""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter
from collections.abc import Collection, Sequence

__all__ = ["STOPWORDS", "condense", "split_sentences", "tokens", "word_count"]

# fmt: off
STOPWORDS = frozenset({
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are",
    "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can",
    "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had",
    "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i",
    "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no",
    "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves",
    "out", "over", "own", "said", "same", "say", "says", "she", "should", "so", "some", "such", "than",
    "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this",
    "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when",
    "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours",
    "yourself", "yourselves"
})
# fmt: on

_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "cllr", "prof", "st", "vs", "etc", "eg", "ie", "approx"})
# A sentence ends at . ! ? or … (optionally closed by a quote or bracket) followed by space and a capital,
# digit, opening quote or currency sign.
_BOUNDARY_RE = re.compile(r"(?<=[.!?…])[\"”’)\]]?\s+(?=[\"“‘(\[£$€#@]?[A-Z0-9])")
_REDUNDANCY = 0.5


def word_count(text: str) -> int:
    """The number of whitespace-separated words in ``text``."""
    return len(text.split())


def tokens(text: str) -> list[str]:
    """Lower-case content words of ``text`` (stopwords and a possessive ``'s`` removed), in order."""
    out = []
    for word in _WORD_RE.findall(text.lower()):
        if word.endswith(("'s", "’s")):
            word = word[:-2]
        if word not in STOPWORDS and (len(word) > 1 or word.isdigit()):
            out.append(word)
    return out


def split_sentences(text: str) -> list[str]:
    """Split plain text into sentences, whitespace-normalised; never returns empty strings.

    Splits after terminal punctuation followed by a capitalised word, except after common
    abbreviations (``Dr.``, ``Cllr.``...), so ``"Dr. Jones spoke."`` stays one sentence.
    """
    text = " ".join(text.split())
    if not text:
        return []
    pieces: list[str] = []
    start = 0
    for match in _BOUNDARY_RE.finditer(text):
        head = text[start : match.start()]
        last_word = head.rsplit(" ", 1)[-1].rstrip(".").lower().replace(".", "")
        if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
            continue
        end = match.start() + len(match.group(0).rstrip())
        pieces.append(text[start:end].strip())
        start = match.end()
    pieces.append(text[start:].strip())
    return [p for p in pieces if p]


def _vector(words: Sequence[str], idf: dict[str, float]) -> dict[str, float]:
    counts = Counter(words)
    vec = {w: (1.0 + math.log(n)) * idf[w] for w, n in counts.items()}
    norm = math.sqrt(sum(v * v for v in vec.values()))
    return {w: v / norm for w, v in vec.items()} if norm else {}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(w, 0.0) for w, v in a.items())


def condense(sentences: Sequence[str], word_budget: int, *, keep: Collection[int] = ()) -> list[int]:
    """Choose which sentences to keep so the kept words fit ``word_budget``; returns indices in order.

    Guarantees: every index in ``keep`` is returned (even past the budget); the other chosen sentences
    never push the total past the budget; if everything fits, everything is returned. Sentences are
    scored by cosine similarity to the TF-IDF centroid of all of them, less a redundancy penalty for
    overlap with what is already chosen (maximal marginal relevance). Deterministic: ties go to the
    earlier sentence.
    """
    n = len(sentences)
    counts = [word_count(s) for s in sentences]
    if sum(counts) <= word_budget:
        return list(range(n))
    kept = {i for i in keep if 0 <= i < n}
    remaining = word_budget - sum(counts[i] for i in kept)
    if remaining <= 0:
        return sorted(kept)

    words = [tokens(s) for s in sentences]
    df = Counter(w for ws in words for w in set(ws))
    idf = {w: math.log((1 + n) / (1 + d)) + 1.0 for w, d in df.items()}
    vectors = [_vector(ws, idf) for ws in words]
    centroid: Counter[str] = Counter()
    for vec in vectors:
        centroid.update(vec)
    norm = math.sqrt(sum(v * v for v in centroid.values())) or 1.0
    centre = {w: v / norm for w, v in centroid.items()}
    relevance = [_cosine(vec, centre) for vec in vectors]

    # Lazy greedy MMR: a candidate's value only falls as more is chosen, so a stale heap entry is an
    # upper bound; re-score it against the sentences chosen since, and take it if it still leads.
    chosen: list[int] = sorted(kept)
    seen_upto = [0] * n
    max_overlap = [0.0] * n
    heap = [(-relevance[i], i) for i in range(n) if i not in kept and counts[i] <= remaining]
    heapq.heapify(heap)
    while heap and remaining > 0:
        _, i = heapq.heappop(heap)
        if counts[i] > remaining:
            continue
        if seen_upto[i] < len(chosen):
            for j in chosen[seen_upto[i] :]:
                max_overlap[i] = max(max_overlap[i], _cosine(vectors[i], vectors[j]))
            seen_upto[i] = len(chosen)
            value = relevance[i] - _REDUNDANCY * max_overlap[i]
            if heap and (-value, i) > heap[0]:
                heapq.heappush(heap, (-value, i))
                continue
        chosen.append(i)
        remaining -= counts[i]
    return sorted(chosen)
