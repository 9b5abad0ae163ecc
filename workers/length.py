"""The length rule: a post says no more than 1.2 times what its updates said; pure."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from server.models import Update
from workers.post import Block, Paragraph, Quotation

__all__ = ["MAX_RATIO", "post_words", "update_words", "within_length"]

#: At most this many words of post per word of the updates it shows.
MAX_RATIO = 1.2
_MARKUP_RE = re.compile(r"\]\([^)]*\)|[*_\\\[]")


def post_words(blocks: Sequence[Block]) -> int:
    """Words the reader reads as prose: paragraphs and quotes (headings are the programme's, figures the photos')."""
    texts = [b.text for b in blocks if isinstance(b, Paragraph | Quotation)]
    texts += [b.attribution for b in blocks if isinstance(b, Quotation) and b.attribution]
    return sum(len(_MARKUP_RE.sub(" ", t).split()) for t in texts)


def update_words(updates: Iterable[Update]) -> int:
    """Words of the text and quotes (with their speakers) of the day's surviving updates."""
    total = 0
    for update in updates:
        total += len(update.text.split())
        if update.quote is not None:
            total += len(update.quote.text.split()) + len((update.quote.speaker or "").split())
    return total


def within_length(blocks: Sequence[Block], updates: Iterable[Update]) -> bool:
    """True when the post's prose is at most MAX_RATIO times the words of the day's surviving updates."""
    return post_words(blocks) <= MAX_RATIO * update_words(updates)
