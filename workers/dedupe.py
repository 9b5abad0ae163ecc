"""No sentence twice: near-duplicates by containment or similarity, across reporters, the fuller kept; pure.

Two reporters post the same fact in different words, or one repeats part of an earlier update in a
later one. The post says it once: the fuller sentence (a key update's or a quote's first) stays, and the
caller records what was folded into it so an editor can put it back.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["DUPLICATE_THRESHOLD", "Candidate", "find_repeats", "is_near_duplicate"]

#: Token-set (Jaccard) similarity at or above which two sentences make the same point.
DUPLICATE_THRESHOLD = 0.6
#: A sentence of at least this many content words whose words all appear in another is contained in it.
CONTAINED_MIN_WORDS = 4


@dataclass(frozen=True)
class Candidate:
    """One sentence of the day: its content words and whether it must survive (a key update's)."""

    words: frozenset[str]
    protected: bool = False


def _similar(shared: int, size_a: int, size_b: int) -> bool:
    # Jaccard |A & B| / |A | B| >= t, in integers-and-one-product form so every caller rounds alike.
    return shared > 0 and shared >= DUPLICATE_THRESHOLD * (size_a + size_b - shared)


def is_near_duplicate(a: Iterable[str], b: Iterable[str]) -> bool:
    """True when two token lists make the same point: one contains the other, or Jaccard >= the threshold."""
    sa, sb = set(a), set(b)
    small = min(len(sa), len(sb))
    return _similar(len(sa & sb), len(sa), len(sb)) or (small >= CONTAINED_MIN_WORDS and len(sa & sb) == small)


class _Kept:
    """The sentences kept so far, indexed so a repeat is found without comparing every pair.

    Similarity uses prefix filtering: two sets with Jaccard >= t share a token among the |A| - ceil(t|A|) + 1
    rarest of each. Containment of a new set in a kept one needs the new set's rarest token in it; a kept
    (protected) set inside a new one needs the kept set's rarest token among the new one's. Sets are
    bitmasks over tokens ranked rarest first, so each check is one AND and a popcount.
    """

    def __init__(self, rank: dict[str, int]) -> None:
        self._rank = rank
        self._sets: list[tuple[int, int]] = []
        self._prefix: defaultdict[int, list[int]] = defaultdict(list)
        self._postings: defaultdict[int, list[int]] = defaultdict(list)
        self._rarest: defaultdict[int, list[int]] = defaultdict(list)

    def _encode(self, words: frozenset[str]) -> tuple[list[int], int]:
        ranks = sorted(self._rank[w] for w in words)
        mask = 0
        for r in ranks:
            mask |= 1 << r
        return ranks, mask

    def add(self, words: frozenset[str], *, small: bool) -> int:
        ranks, mask = self._encode(words)
        slot = len(self._sets)
        self._sets.append((len(ranks), mask))
        for r in ranks[: len(ranks) - math.ceil(DUPLICATE_THRESHOLD * len(ranks)) + 1]:
            self._prefix[r].append(slot)
        for r in ranks:
            self._postings[r].append(slot)
        if small and len(ranks) >= CONTAINED_MIN_WORDS:
            self._rarest[ranks[0]].append(slot)
        return slot

    def match(self, words: frozenset[str]) -> int | None:
        """The kept slot that ``words`` repeats (contained in it, containing it, or similar), else None."""
        ranks, mask = self._encode(words)
        size = len(ranks)
        if size >= CONTAINED_MIN_WORDS:
            for slot in self._postings.get(ranks[0], ()):
                if self._sets[slot][1] & mask == mask:
                    return slot
        for r in ranks:
            for slot in self._rarest.get(r, ()):
                other = self._sets[slot][1]
                if other & mask == other:
                    return slot
        low, high = DUPLICATE_THRESHOLD * size, size / DUPLICATE_THRESHOLD
        for slot in sorted({s for r in ranks[: size - math.ceil(DUPLICATE_THRESHOLD * size) + 1]
                            for s in self._prefix.get(r, ())}):  # fmt: skip
            other_size, other = self._sets[slot]
            if low <= other_size <= high and _similar((mask & other).bit_count(), size, other_size):
                return slot
        return None


def find_repeats(candidates: Sequence[Candidate]) -> dict[int, int]:
    """Which candidates repeat another: ``{repeat index: index of the one kept in its place}``.

    Protected candidates are considered first, then fuller ones (more content words), then earlier ones,
    so the kept sentence is a key one where there is one, and otherwise the fullest. Two protected
    candidates can fold together only when one contains the other (the fuller keeps every word).
    Candidates without content words are never repeats. Deterministic.
    """
    counts = Counter(w for c in candidates for w in c.words)
    rank = {w: r for r, (w, _) in enumerate(sorted(counts.items(), key=lambda wc: (wc[1], wc[0])))}
    order = sorted(range(len(candidates)), key=lambda i: (not candidates[i].protected, -len(candidates[i].words), i))
    kept = _Kept(rank)
    owners: list[int] = []
    repeats: dict[int, int] = {}
    for i in order:
        words = candidates[i].words
        if not words:
            continue
        slot = kept.match(words)
        if slot is not None and candidates[i].protected and not candidates[owners[slot]].words >= words:
            slot = None
        if slot is not None:
            repeats[i] = owners[slot]
            continue
        owners.append(i)
        kept.add(words, small=candidates[i].protected)
    return repeats
