"""Channel and reader state and every join, resume and dispatch decision of live delivery; no I/O.

The invariant this module keeps: each reader gets the messages of its event in seq order, each once, with no
gap after its ``after`` (or after its join) for as long as it stays connected. The hub does the I/O around
these decisions; ``tests/test_feed_core.py`` checks the invariant by hypothesis across joins, resumes, pub/sub
reconnects and trims, without Redis or sockets.

How a reader joins (``Channel.join``, then the hub's catch-up):
1. *join*: from now on every message the channel dispatches is kept for the reader (``Follower.keep``).
2. *backfill*: from memory (``Channel.replay``) when the channel's recent messages reach back to ``after``;
   otherwise the log after ``after``, each entry through ``Follower.advance`` (sent once, in order).
3. *switch* (``Channel.go_live``, in one event-loop step): the kept messages after the reader's position are
   sent and the reader joins its live group. If the log read ran ahead of the channel (an XRANGE reply can
   overtake a PUBLISH), it waits and ``Channel.dispatch`` promotes it once the channel catches up.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, Protocol, TypeVar


class Position(NamedTuple):
    """A place in an event's log: its seq (``<ms>-<n>``, the stream id) as numbers, ordered as the log is.

    One value per reader and per channel: the last seq sent (or filtered out) or dispatched.
    """

    ms: int
    n: int

    @classmethod
    def of(cls, seq: str) -> Position:
        """Raises ValueError when ``seq`` is not ``<ms>-<n>`` (or ``<ms>``) in ASCII digits."""
        ms, _, n = seq.partition("-")
        if not (ms.isascii() and ms.isdigit() and (not n or (n.isascii() and n.isdigit()))):
            raise ValueError(f"not a seq: {seq!r}")
        return cls(int(ms), int(n or 0))

    @property
    def seq(self) -> str:
        return f"{self.ms}-{self.n}"


ORIGIN = Position(0, 0)  # before every entry


class Item(Protocol):
    """What the core needs of a message: its position (None: resync, always delivered) and its filter."""

    @property
    def position(self) -> Position | None: ...

    def matches(self, session: str | None) -> bool: ...


M = TypeVar("M", bound=Item)


class Follower(Generic[M]):
    """One reader's delivery state: its position and, while it joins, the messages kept for it."""

    __slots__ = ("gap", "kept", "position", "promote_at", "session")

    def __init__(self, session: str | None, after: Position | None = None) -> None:
        self.session = session
        self.position = ORIGIN if after is None else after  # last seq sent or filtered out
        self.kept: list[M] = []
        self.gap = False  # the kept list overflowed: what follows it must come from the log again
        self.promote_at: Position | None = None  # waiting until the channel has dispatched up to here

    def keep(self, messages: Iterable[M], limit: int) -> None:
        """Keep dispatched messages while joining, at most ``limit``; past it mark a gap and keep no more."""
        if self.gap:
            return
        kept = self.kept
        for message in messages:
            if len(kept) >= limit:
                self.gap = True
                return
            kept.append(message)

    def advance(self, message: M) -> bool:
        """Whether to send ``message`` (catch-up): a resync always; otherwise only a message after the position,
        which then becomes the position (also when the reader's filter skips it)."""
        position = message.position
        if position is None:
            return True
        if position <= self.position:
            return False
        self.position = position
        return message.matches(self.session)

    def restart_kept(self) -> list[M]:
        """After an overflow: the kept messages to send now (through ``advance``); keeping starts afresh."""
        kept, self.kept, self.gap = self.kept, [], False
        return kept

    def resynced(self) -> None:
        """The reader was sent a resync (its ``after`` was trimmed): it follows from the start of what is left."""
        self.position = ORIGIN


@dataclass(slots=True)
class Dispatch(Generic[M]):
    """What a dispatch asks of the hub: write ``fresh`` to the live groups, make ``promote`` live."""

    fresh: list[M]
    promote: list[Follower[M]]


@dataclass(eq=False)
class Channel(Generic[M]):
    """One followed event's state in this process: the last position dispatched, the recent messages, the
    joining readers and the live ones by group (the hub groups by wire format and session filter)."""

    recent_limit: int = 1000
    position: Position | None = None  # last seq dispatched; None until the first sync says where the log ends
    syncing: bool = True  # until subscribed and caught up with the log (after every pub/sub reconnect)
    recent: list[M] = field(default_factory=list)  # dispatched, in order, without a gap since the first
    joining: set[Follower[M]] = field(default_factory=set)
    groups: dict[Hashable, set[Follower[M]]] = field(default_factory=dict)
    version: int = 0  # bumped whenever a reader goes live (a write job's snapshot of the groups is then stale)

    def size(self) -> int:
        """Readers of the channel in this process, joining or live, each once."""
        return len(self.joining) + sum(len(group) for group in self.groups.values())

    def join(self, follower: Follower[M]) -> None:
        self.joining.add(follower)

    def leave(self, follower: Follower[M], key: Hashable) -> None:
        self.joining.discard(follower)
        group = self.groups.get(key)
        if group is not None:
            group.discard(follower)
            if not group:
                del self.groups[key]

    def dispatch(self, messages: Iterable[M], keep_limit: int) -> Dispatch[M]:
        """Take messages in seq order (from pub/sub or a backfill); drop those at or before the position.

        The fresh ones are remembered for resuming readers and kept for the joining ones; joining readers
        waiting for this position are returned for promotion. A resync (a gap in the channel: pub/sub was
        down while the log was trimmed) forgets the recent messages and goes to every reader.
        """
        fresh: list[M] = []
        for message in messages:
            position = message.position
            if position is not None:
                if self.position is not None and position <= self.position:
                    continue
                self.position = position
            fresh.append(message)
        if not fresh:
            return Dispatch(fresh, [])
        self._remember(fresh)
        promote: list[Follower[M]] = []
        for follower in self.joining:
            follower.keep(fresh, keep_limit)
            if follower.promote_at is not None and self.position is not None and follower.promote_at <= self.position:
                promote.append(follower)
        return Dispatch(fresh, promote)

    def _remember(self, messages: list[M]) -> None:
        limit = self.recent_limit
        if limit <= 0:
            return
        for message in messages:
            if message.position is None:
                self.recent.clear()
            else:
                self.recent.append(message)
        if len(self.recent) > 2 * limit:  # trim in steps, not per message
            del self.recent[:-limit]

    def start_at(self, top: Position) -> list[Follower[M]]:
        """The first sync (or one after a trim): go on from the log's last position ``top``; nothing before it is
        dispatched. Returns the joining readers that now may go live."""
        self.position = top if self.position is None else max(self.position, top)
        return self.promotable()

    def promotable(self) -> list[Follower[M]]:
        at = self.position
        return [f for f in self.joining if f.promote_at is not None and at is not None and f.promote_at <= at]

    def replay(self, follower: Follower[M], limit: int | None = None) -> list[M] | None:
        """Resume from memory: the messages after the follower's position, if the recent list reaches back to
        it (the follower then has them: its position moves to the last); None when it does not, while
        syncing, or when more than ``limit`` would be replayed.

        Every message dispatched after the oldest recent one is in ``recent`` (a resync clears it), so when that
        oldest one is not after the position, ``recent`` holds every message after it dispatched so far.
        """
        recent, at = self.recent, follower.position
        if self.syncing or not recent or follower not in self.joining or self.position is None:
            return None
        first = recent[0].position
        if first is None or first > at or at > self.position:
            return None
        start = bisect.bisect_right(recent, at, key=_position)
        if limit is not None and len(recent) - start > limit:
            return None
        if start < len(recent):
            last = recent[-1].position
            assert last is not None
            follower.position = last
        return [m for m in recent[start:] if m.matches(follower.session)]

    def is_ahead(self, follower: Follower[M]) -> bool:
        """Whether the follower's catch-up ran ahead of what the channel dispatched (it must wait)."""
        return self.position is None or follower.position > self.position

    def go_live(self, follower: Follower[M], key: Hashable) -> list[M]:
        """Make a joining follower live in group ``key``; returns the kept messages still to send first (they
        and the move happen in one step, so no live message can pass a kept one)."""
        kept, follower.kept, follower.promote_at = follower.kept, [], None
        out = [m for m in kept if follower.advance(m)]
        self.joining.discard(follower)
        self.groups.setdefault(key, set()).add(follower)
        self.version += 1
        return out


def _position(message: Item) -> Position:
    return message.position or ORIGIN
