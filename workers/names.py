"""Names spelt as the programme spells them ("tomás ortega", "Tomas Ortega" -> "Tomás Ortega"); pure."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import lemminflect

__all__ = ["Spelling", "fold"]


def _fold_char(ch: str) -> str:
    base = unicodedata.normalize("NFKD", ch)[:1].lower()
    return base[:1] if len(base) == 1 else ch


def fold(text: str) -> str:
    """``text`` lower-cased and without accents, one character for one (positions stay aligned)."""
    if text.isascii():
        return text.lower()
    return "".join(_fold_char(ch) for ch in text)


class Spelling:
    """Rewrites each programme name (a person's surname alone, a place after "City of") as the programme
    spells it.

    A reporter typing fast drops capitals and accents; the programme is the authority on names. Matching
    ignores case and accents and needs word boundaries, so "Tan" never changes "tangible" (nor "a tan suit").
    """

    def __init__(self, names: Iterable[str]) -> None:
        spellings: dict[str, str] = {}
        for name in names:
            name = unicodedata.normalize("NFC", " ".join(name.split()))
            if not name:
                continue
            spellings.setdefault(fold(name), name)
            parts = name.split()
            if " of " in name:  # "City of Port Alder" is "Port Alder" in a reporter's sentence
                spellings.setdefault(fold(name.split(" of ", 1)[1]), name.split(" of ", 1)[1])
            elif len(parts) > 1 and len(parts[-1]) >= 3:
                spellings.setdefault(fold(parts[-1]), parts[-1])
        self._spellings = spellings
        # A surname that is also an English word ("Tan", "Marsh") is respelt only when already capitalised.
        self._words = {f for f, name in spellings.items() if " " not in f and lemminflect.getAllLemmas(f)}
        alternatives = sorted(spellings, key=len, reverse=True)
        self._pattern = (
            re.compile(r"(?<!\w)(?:" + "|".join(re.escape(a) for a in alternatives) + r")(?!\w)")
            if alternatives
            else None
        )

    def respell(self, text: str) -> str:
        """``text`` with every programme name in the programme's spelling; other words untouched."""
        if self._pattern is None:
            return text
        text = unicodedata.normalize("NFC", text)
        folded = fold(text)
        out, last = [], 0
        for match in self._pattern.finditer(folded):
            if match.group(0) in self._words and not text[match.start()].isupper():
                continue
            out += [text[last : match.start()], self._spellings[match.group(0)]]
            last = match.end()
        return "".join(out) + text[last:]
