"""No sentence twice: repeats by containment or similarity, across reporters, the fuller kept; pure.

Two reporters post the same fact in different words, or one repeats part of an earlier update in a
later one. The post says it once: the fuller sentence (a key update's first) stays, and the caller
records what was folded into it so an editor can put it back.

Three checks, each bounded so a 10,000-update day stays fast whatever its vocabulary:
- the same words (as a set) anywhere in the day: one hash lookup;
- one sentence's words running inside another's, in order, anywhere in the day: an index of word
  trigrams, probed with the shorter sentence's first trigram;
- the same point in other words (token-set Jaccard >= DUPLICATE_THRESHOLD): against the last
  SIMILAR_WINDOW sentences kept in the same section, where reporters repeat each other.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["DUPLICATE_THRESHOLD", "SIMILAR_WINDOW", "Candidate", "find_repeats", "is_near_duplicate"]

#: Token-set (Jaccard) similarity at or above which two sentences make the same point.
DUPLICATE_THRESHOLD = 0.6
#: How many of a section's latest kept sentences a new one is compared with for similarity.
SIMILAR_WINDOW = 24
#: A run of at least this many content words inside another sentence is a repeat of it.
CONTAINED_MIN_WORDS = 3


@dataclass(frozen=True)
class Candidate:
    """One sentence of the day, in time order: its content words in order, its section, and whether it
    must survive (a key update's)."""

    tokens: tuple[str, ...]
    group: str = ""
    protected: bool = False
    words: frozenset[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "words", frozenset(self.tokens))


def _similar(shared: int, size_a: int, size_b: int) -> bool:
    # Jaccard |A & B| / |A | B| >= t, in integers-and-one-product form so every caller rounds alike.
    return shared > 0 and shared >= DUPLICATE_THRESHOLD * (size_a + size_b - shared)


def is_near_duplicate(a: Iterable[str], b: Iterable[str]) -> bool:
    """True when two token lists make the same point: token-set Jaccard >= DUPLICATE_THRESHOLD."""
    sa, sb = set(a), set(b)
    return _similar(len(sa & sb), len(sa), len(sb))


def _inside(small: tuple[str, ...], big: tuple[str, ...]) -> bool:
    n = len(small)
    return any(big[i : i + n] == small for i in range(len(big) - n + 1))


def _grams(tokens: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The sentence's word trigrams, first one first, each once."""
    k = CONTAINED_MIN_WORDS
    return list(dict.fromkeys(tokens[i : i + k] for i in range(len(tokens) - k + 1)))


def _fuller(a: Candidate, b: Candidate) -> bool:
    """True when ``a`` should be kept over ``b``: key first, then more content words (earlier on a tie)."""
    return (a.protected, len(a.words)) > (b.protected, len(b.words))


class _Kept:
    """The sentences kept so far; a kept sentence replaced by a fuller repeat is marked dead."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        self.c = candidates
        words = sorted({w for c in candidates for w in c.words})
        self.bit = {w: 1 << r for r, w in enumerate(words)}
        self.alive: set[int] = set()
        self.by_words: dict[frozenset[str], int] = {}
        self.grams: defaultdict[tuple[str, ...], list[int]] = defaultdict(list)
        self.first_gram: defaultdict[tuple[str, ...], list[int]] = defaultdict(list)
        self.recent: defaultdict[str, deque[tuple[int, int, int]]] = defaultdict(lambda: deque(maxlen=SIMILAR_WINDOW))

    def _mask(self, c: Candidate) -> int:
        mask = 0
        for w in c.words:
            mask |= self.bit[w]
        return mask

    def add(self, i: int, grams: list[tuple[str, ...]], mask: int) -> None:
        c = self.c[i]
        self.alive.add(i)
        self.by_words[c.words] = i
        for gram in grams:
            self.grams[gram].append(i)
        if grams:
            self.first_gram[grams[0]].append(i)
        self.recent[c.group].append((i, mask, len(c.words)))

    def match(self, i: int, grams: list[tuple[str, ...]], mask: int) -> tuple[int, bool] | None:
        """A kept sentence that ``i`` repeats, and whether the match is containment (or sameness)."""
        c, alive = self.c[i], self.alive
        same = self.by_words.get(c.words)
        if same is not None and same in alive:
            return same, True
        if grams:
            for j in self.grams.get(grams[0], ()):
                if j in alive and _inside(c.tokens, self.c[j].tokens):
                    return j, True
            for gram in grams:
                for j in self.first_gram.get(gram, ()):
                    if j in alive and _inside(self.c[j].tokens, c.tokens):
                        return j, True
        size = len(c.words)
        low, high = DUPLICATE_THRESHOLD * size, size / DUPLICATE_THRESHOLD
        for j, other, other_size in self.recent[c.group]:
            if low <= other_size <= high and j in alive:
                shared = (mask & other).bit_count()
                if shared >= DUPLICATE_THRESHOLD * (size + other_size - shared):
                    return j, False
        return None


def find_repeats(candidates: Sequence[Candidate]) -> dict[int, int]:
    """Which candidates repeat another: ``{repeat index: index of the one kept in its place}``.

    Of two repeats the fuller stays (a protected one first, then more content words, then the earlier).
    Two protected candidates fold together only when one's words run inside the other's (or are the
    same), so a key update's words always survive. Candidates without content words are never repeats.
    Deterministic.
    """
    kept = _Kept(candidates)
    repeats: dict[int, int] = {}
    folded: defaultdict[int, list[int]] = defaultdict(list)  # kept index -> the repeats folded into it
    for i, candidate in enumerate(candidates):
        if not candidate.words:
            continue
        grams, mask = _grams(candidate.tokens), kept._mask(candidate)
        found = kept.match(i, grams, mask)
        if found is None:
            kept.add(i, grams, mask)
            continue
        j, contained = found
        if candidate.protected and candidates[j].protected and not contained:
            kept.add(i, grams, mask)
            continue
        if _fuller(candidate, candidates[j]):
            kept.alive.discard(j)
            moved = [*folded.pop(j, []), j]
            for repeat in moved:
                repeats[repeat] = i
            folded[i].extend(moved)
            kept.add(i, grams, mask)
        else:
            repeats[i] = j
            folded[j].append(i)
    return repeats
