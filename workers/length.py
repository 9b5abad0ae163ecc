"""The length rule: a post says no more than 1.2 times what its updates said; pure."""

from __future__ import annotations

import re
from collections.abc import Iterable

from server.models import Update

__all__ = ["MAX_RATIO", "post_words", "update_words", "within_length"]

#: At most this many words of post per word of the updates it shows.
MAX_RATIO = 1.2
_MARKUP_RE = re.compile(r"\]\([^)]*\)|[*_\\\[]")


def post_words(markdown: str) -> int:
    """Words the reader reads as prose: paragraphs and quotes, not markers, headings (the programme's) or
    photos (their words are the update's caption)."""
    total = 0
    for block in markdown.split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith("<!--")]
        if not lines or lines[0].startswith(("## ", "![")):
            continue
        text = " ".join(re.sub(r"^>\s*(?:— )?", "", line) for line in lines)
        total += len(_MARKUP_RE.sub(" ", text).split())
    return total


def update_words(updates: Iterable[Update]) -> int:
    """Words of the text and quotes (with their speakers) of the day's surviving updates."""
    total = 0
    for update in updates:
        total += len(update.text.split())
        if update.quote is not None:
            total += len(update.quote.text.split()) + len((update.quote.speaker or "").split())
    return total


def within_length(markdown: str, updates: Iterable[Update]) -> bool:
    """True when the post's prose is at most MAX_RATIO times the words of the day's surviving updates."""
    return post_words(markdown) <= MAX_RATIO * update_words(updates)
