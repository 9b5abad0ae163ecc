"""What an update is for, beyond its words: a sign-off that closes the day, or logistics chatter; pure."""

from __future__ import annotations

import re

__all__ = ["is_logistics", "is_signoff"]

# A reporter's sign-off: it belongs after the last session, once, whenever it was posted.
_SIGNOFF_RE = re.compile(
    r"\b(?:thanks?(?: you)? (?:all |everyone )?for (?:following|reading|joining us)"
    r"|that(?:'s|’s| is) (?:it|all|the end) (?:from|for|of)|that(?:'s|’s| is) a wrap|signing off"
    r"|back tomorrow|see you (?:tomorrow|next year)"
    r"|until tomorrow|(?:end|close) of (?:our|the) (?:live )?(?:coverage|blog))\b",
    re.IGNORECASE,
)
# Chatter about the venue's comforts that a reader of the day's story does not need.
_LOGISTICS_RE = re.compile(
    r"\b(?:coffee|tea break|queues?|wi-?fi|lunch(?:time)?|cloakroom|toilets?|lanyards?|registration desk"
    r"|badges?|sandwich(?:es)?|catering|buffet|croissants?|pastr(?:y|ies)|car park|parking is|charging points?"
    r"|power sockets?|drinks reception|under way|running (?:late|behind)|back in (?:the|our) seats)\b",
    re.IGNORECASE,
)


def is_signoff(text: str) -> bool:
    """True when ``text`` closes the coverage ("That is the end of day two, thank you for following")."""
    return _SIGNOFF_RE.search(text) is not None


def is_logistics(text: str) -> bool:
    """True when ``text`` is about the venue (coffee queues, Wi-Fi, lunch) rather than what was said.

    Only short chatter counts: an update of more than 40 words is treated as substance whatever it mentions.
    """
    return len(text.split()) <= 40 and _LOGISTICS_RE.search(text) is not None
