"""Live-blog stubs that only introduce a quote ("Glyn on hype:") become attribution, or go; pure."""

from __future__ import annotations

import re

__all__ = ["attribution", "without_live_prefix"]

# Live-blog furniture that means nothing after the day: "Missed earlier: …", "Update: …".
_LIVE_PREFIX_RE = re.compile(
    r"^(?:missed (?:this )?earlier|just in|breaking|update|correction|earlier|live)\s*[:—–-]\s*", re.IGNORECASE
)

_WHO = r"(?P<who>[A-ZÀ-Ý][\w'’.-]*(?: [A-ZÀ-Ý][\w'’.-]*){0,3})"
_ON_RE = re.compile(rf"^{_WHO} on (?P<topic>[^.!?]+?)\s*:?$")
_CLAIM_RE = re.compile(
    rf"^{_WHO}['’]s (?:claim|verdict|view|take|line|point|warning|message|answer|advice|plea|challenge)\s*:?$"
)
_PLACE_RE = re.compile(rf"^{_WHO} (?P<dir>to|from) the (?P<place>table|floor|room|audience|panel|hall)\s*:?$")
_MAX_STUB_WORDS = 10


def _is_stub_shaped(text: str) -> bool:
    return len(text.split()) <= _MAX_STUB_WORDS and text[-1:] not in (".", "!", "?", "…")


def attribution(text: str, speaker: str | None) -> str | None:
    """The lead-in sentence for a quote whose update text is ``text``.

    Returns None when ``text`` is a sentence of its own (keep it), "" when it is a stub that cannot be
    turned into attribution (drop it), else the attribution ending in a colon: "Okafor on what digital by
    default got wrong" -> "On what digital by default got wrong, Okafor put it this way:". ``speaker``
    is how the post names the quote's speaker at this point (full name, or surname once introduced).
    """
    text = " ".join(text.split())
    if not text or not _is_stub_shaped(text):
        return None
    if match := _ON_RE.match(text):
        topic = match["topic"]
        topic = topic[0].lower() + topic[1:] if topic[1:2].islower() else topic
        return f"On {topic}, {speaker or match['who']} put it this way:"
    if match := _CLAIM_RE.match(text):
        return f"As {speaker or match['who']} put it:"
    if match := _PLACE_RE.match(text):
        who = match["who"] if speaker is None or speaker.split()[-1] in match["who"] else speaker
        if match["dir"] == "from":
            return f"From the {match['place']}, {who} put it this way:"
        return f"As {who} put it to the {match['place']}:"
    if len(text.split()) <= 4 and not re.search(r"\b(?:is|are|was|were|has|had|says|said)\b", text):
        return f"As {speaker} put it:" if speaker else ""
    return None


def without_live_prefix(text: str) -> str:
    """``text`` without a leading live-blog label ("Missed earlier:", "Just in:"); unchanged otherwise."""
    rest = _LIVE_PREFIX_RE.sub("", text, count=1)
    return rest if rest else text
