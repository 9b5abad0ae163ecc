"""The feed core's invariant, by hypothesis: no gap, no duplicate, seq order, across joins, resumes, pub/sub
reconnects and trims. Pure: the log, pub/sub and the catch-up are modelled in memory, so a run is milliseconds."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from server.feed.core import ORIGIN, Channel, Follower, Position

BATCH = 2  # log entries per catch-up read: small, so reads interleave with everything else
KEEP = 3  # kept messages per joining reader before it must read the log again


@dataclass(frozen=True)
class Msg:
    """A message as the core sees it (None: resync)."""

    position: Position | None
    session: str | None = None

    def matches(self, session: str | None) -> bool:
        return session is None or self.session is None or self.session == session


RESYNC = Msg(None)


@dataclass(eq=False)
class Reader:
    """A follower and the catch-up it is in; ``stage``: log (reading), live, or waiting (for promotion)."""

    follower: Follower[Msg]
    after: Position | None
    resuming: bool
    joined: Position  # the log's last position when it joined
    stage: str = "log"
    got: list[Msg] = field(default_factory=list)
    resynced_at: Position = ORIGIN  # the log's last position when the last resync was sent

    def send(self, message: Msg, clock: int) -> None:
        self.got.append(message)
        if message.position is None:
            self.resynced_at = Position(clock, 0)


class World:
    """A log, one pub/sub connection with messages in flight, one channel and its readers."""

    def __init__(self) -> None:
        self.log: list[Msg] = []
        self.history: list[Position] = []  # every position ever appended, trimmed or not
        self.trimmed = ORIGIN  # the last position trimmed away
        self.clock = 0
        self.channel: Channel[Msg] = Channel(recent_limit=2)
        self.connected = False  # subscribed (confirmed)
        self.in_flight: list[Msg] = []  # published, not yet read by the hub
        self.pending: list[Msg] = []  # read while syncing
        self.readers: list[Reader] = []

    # --- the store and pub/sub -----------------------------------------------------------------------

    def publish(self) -> None:
        self.clock += 1
        message = Msg(Position(self.clock, 0))
        self.log.append(message)
        self.history.append(Position(self.clock, 0))
        if self.connected:
            self.in_flight.append(message)

    def trim(self, keep: int) -> None:
        if len(self.log) > keep:
            self.trimmed = self.log[-keep - 1].position or ORIGIN
            del self.log[: len(self.log) - keep]

    def read_after(self, after: Position, limit: int) -> list[Msg] | None:
        """None: ``after`` was trimmed (SeqExpired)."""
        if after < self.trimmed:
            return None
        return [m for m in self.log if m.position is not None and m.position > after][:limit]

    def last(self) -> Position:
        return self.log[-1].position or ORIGIN if self.log else self.trimmed

    # --- the broker -------------------------------------------------------------------------------

    def drop(self) -> None:
        self.connected = False
        self.in_flight.clear()
        self.pending.clear()
        self.channel.syncing = True

    def subscribe(self) -> None:
        self.connected = True
        self.channel.syncing = True

    def read_pubsub(self) -> None:
        if not self.in_flight:
            return
        message = self.in_flight.pop(0)
        if self.channel.syncing:
            self.pending.append(message)
        else:
            self.deliver([message])

    def sync(self) -> None:
        """Backfill after a confirmed subscription, then what pub/sub brought meanwhile."""
        if not self.connected or not self.channel.syncing:
            return
        channel = self.channel
        if channel.position is None:
            self.promote(channel.start_at(self.last()))
        else:
            found = self.read_after(channel.position, 10**9)
            if found is None:
                self.deliver([RESYNC])
                self.promote(channel.start_at(self.last()))
            else:
                self.deliver(found)
        self.deliver(self.pending)
        self.pending = []
        channel.syncing = False

    def deliver(self, messages: list[Msg]) -> None:
        dispatch = self.channel.dispatch(messages, KEEP)
        for reader in self.readers:
            if reader.stage == "live" and reader.follower in self.channel.groups.get("all", set()):
                for message in dispatch.fresh:
                    if message.matches(reader.follower.session):
                        reader.send(message, self.clock)
        self.promote(dispatch.promote)

    def promote(self, followers: list[Follower[Msg]]) -> None:
        for reader in self.readers:
            if reader.follower in followers and reader.stage == "waiting":
                if reader.follower.gap:  # cut: the client would reconnect with after; here it just stops
                    self.channel.leave(reader.follower, "all")
                    reader.stage = "cut"
                else:
                    self.go_live(reader)

    # --- readers ----------------------------------------------------------------------------------

    def join(self, after: Position | None, session: str | None) -> None:
        follower: Follower[Msg] = Follower(session, after)
        self.channel.join(follower)
        reader = Reader(follower, after, resuming=after is not None, joined=Position(self.clock, 0))
        self.readers.append(reader)
        if after is not None:
            replay = self.channel.replay(follower)
            if replay is not None:
                for message in replay:
                    reader.send(message, self.clock)
                self.go_live(reader)

    def go_live(self, reader: Reader) -> None:
        for message in self.channel.go_live(reader.follower, "all"):
            reader.send(message, self.clock)
        reader.stage = "live"

    def step(self, reader: Reader) -> None:
        """One await of the hub's catch-up: one log batch, or the switch."""
        if reader.stage != "log":
            return
        follower = reader.follower
        if reader.resuming:
            found = self.read_after(follower.position, BATCH)
            if found is None:
                reader.send(RESYNC, self.clock)
                follower.resynced()
                reader.resuming = False
            else:
                for message in found:
                    if follower.advance(message):
                        reader.send(message, self.clock)
                if len(found) == BATCH:
                    return
                reader.resuming = False
        if follower.gap:
            for message in follower.restart_kept():
                if follower.advance(message):
                    reader.send(message, self.clock)
            reader.resuming = follower.position > ORIGIN
            return
        if self.channel.is_ahead(follower):
            follower.promote_at = follower.position
            reader.stage = "waiting"
            return
        self.go_live(reader)

    def settle(self) -> None:
        """Everything in flight arrives, every catch-up ends."""
        if not self.connected:
            self.subscribe()
        for _ in range(10_000):
            self.sync()
            while self.in_flight:
                self.read_pubsub()
            busy = [r for r in self.readers if r.stage == "log"]
            if not busy:
                return
            for reader in busy:
                self.step(reader)
        raise AssertionError("catch-ups never ended")


OPS = ("publish", "publish", "publish", "publish", "read", "read", "flush", "drop", "subscribe", "sync", "join",
       "join", "step", "step", "step", "trim")  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_no_gap_no_duplicate_in_order(data: st.DataObject) -> None:
    world = World()
    world.subscribe()
    world.sync()
    for op in data.draw(st.lists(st.sampled_from(OPS), min_size=30, max_size=120), label="ops"):
        if op == "publish":
            world.publish()
        elif op == "read":
            world.read_pubsub()
        elif op == "flush":
            while world.in_flight:
                world.read_pubsub()
        elif op == "drop":
            world.drop()
        elif op == "subscribe" and not world.connected:
            world.subscribe()
        elif op == "sync":
            world.sync()
        elif op == "join":
            choices: list[Position | None] = [None, *(m.position for m in world.log), world.trimmed, ORIGIN]
            world.join(data.draw(st.sampled_from(choices), label="after"), None)
        elif op == "step" and world.readers:
            world.step(data.draw(st.sampled_from(world.readers), label="reader"))
        elif op == "trim":
            world.trim(data.draw(st.integers(0, 12), label="keep"))
    world.settle()
    for reader in world.readers:
        if reader.stage != "cut":
            _check(reader, world.history)


def _check(reader: Reader, history: list[Position]) -> None:
    """Between resyncs, what the reader got is a run of consecutive log entries; without a resync it is every entry
    after its ``after`` (or at least every one appended after it joined); after a resync (the client reloads the
    list), at least every one appended after the resync was sent."""
    runs: list[list[Position]] = [[]]
    for message in reader.got:
        if message.position is None:
            runs.append([])
        else:
            runs[-1].append(message.position)
    for run in runs:
        assert run == sorted(set(run)), f"duplicate or out of order: {run}"
        if run:
            start = history.index(run[0])
            assert run == history[start : start + len(run)], f"gap: {run} in {history}"
    if len(runs) == 1:
        if reader.after is not None:
            assert runs[0] == [p for p in history if p > reader.after], f"not everything after {reader.after}"
        else:
            assert set(runs[0]) >= {p for p in history if p > reader.joined}, "missed what followed the join"
    else:
        assert set(runs[-1]) >= {p for p in history if p > reader.resynced_at}, "missed what followed a resync"


def test_a_resume_older_than_the_recent_messages_reads_the_log() -> None:
    world = World()
    world.subscribe()
    world.sync()
    for _ in range(6):
        world.publish()
    world.settle()
    first = world.log[0].position
    assert first is not None and world.channel.recent[0].position != first
    world.join(first, None)
    assert world.readers[-1].stage == "log"  # not from memory: it would skip 2 and 3
    world.settle()
    _check(world.readers[-1], world.history)
    assert len(world.readers[-1].got) == 5
