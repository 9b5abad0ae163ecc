"""Capped exponential backoff with jitter: the one retry schedule of Plenary's Python code (clients and server)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits of ``base * 2 ** (attempt - 1)`` seconds, at most ``cap``; ``jitter`` draws each from its upper half.

    Jitter keeps many clients (or restarted workers) from retrying in step; a server's Retry-After is a floor.
    """

    base: float = 0.25
    cap: float = 5.0
    jitter: bool = True

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based), at least ``retry_after``."""
        wait = min(self.cap, self.base * 2.0 ** max(0, attempt - 1))
        if self.jitter:
            wait = random.uniform(wait / 2, wait)
        return max(wait, retry_after) if retry_after is not None else wait
