"""Events and their sessions: event records in one global hash, sessions per event, session changes on the log."""

from __future__ import annotations

import datetime as dt

from server import codec
from server.errors import Conflict, NotFound
from server.models import Event, Session
from server.store.durability import guard
from server.store.log import Entry, LogStore, Seq

__all__ = ["EventStore"]


class EventStore(LogStore):
    """Events (created once) and sessions (created, replaced and deleted, each change broadcast)."""

    async def create_event(self, event: Event) -> None:
        """Raises Conflict when the id is taken."""
        record = codec.pack(event.model_dump(mode="json", exclude={"days"}))  # days are derived
        done = await self.run_write(self.script("create_event"), [self.keys.events()], [event.id, record])
        if not done:
            raise Conflict(f"event {event.id!r} exists", field="id")

    async def get_event(self, event_id: str) -> Event:
        """Raises NotFound for an unknown event."""
        with guard():
            raw = await self.client.hget(self.keys.events(), event_id)
        if raw is None:
            raise NotFound(f"no event {event_id!r}")
        return Event.model_validate(codec.unpack(raw))

    async def list_events(self) -> list[Event]:
        """Every event, by first day then id."""
        with guard():
            raw = await self.client.hvals(self.keys.events())
        events = [Event.model_validate(codec.unpack(r)) for r in raw]
        return sorted(events, key=lambda e: (e.starts_on, e.id))

    async def put_session(self, session: Session) -> tuple[Entry, bool]:
        """Create or replace a session and broadcast it as a ``session`` entry; True when it is new."""
        data = session.model_dump(mode="json")
        ev = session.event
        _ok, seq, created = await self.run_write(
            self.script("append"),
            [self.keys.log(ev), self.keys.channel(ev), self.keys.sessions(ev)],
            ["session", codec.pack(data), self.log_max_entries, session.id],
        )
        return Entry(Seq(seq.decode()), "session", data), bool(created)

    async def delete_session(self, event_id: str, session_id: str) -> Entry:
        """Delete a session and broadcast ``{"id", "event", "deleted": true}`` as a ``session`` entry.

        Raises:
            NotFound: no such session.
            Conflict: live updates still belong to the session (move or delete them first).
        """
        data = {"id": session_id, "event": event_id, "deleted": True}
        k = self.keys
        result = await self.run_write(
            self.script("delete_session"),
            [k.log(event_id), k.channel(event_id), k.sessions(event_id), k.updates_of_session(event_id, session_id)],
            [session_id, codec.pack(data), self.log_max_entries],
        )
        if result[0] == b"gone":
            raise NotFound(f"no session {session_id!r} in event {event_id!r}")
        if result[0] == b"used":
            raise Conflict(f"{int(result[1])} updates belong to session {session_id!r}; move or delete them first",
                           field="session")  # fmt: skip
        return Entry(Seq(result[1].decode()), "session", data)

    async def get_session(self, event_id: str, session_id: str) -> Session | None:
        with guard():
            raw = await self.client.hget(self.keys.sessions(event_id), session_id)
        return None if raw is None else Session.model_validate(codec.unpack(raw))

    async def list_sessions(self, event_id: str, day: dt.date | None = None) -> list[Session]:
        """Sessions in start order, optionally only those of one day."""
        with guard():
            raw = await self.client.hvals(self.keys.sessions(event_id))
        sessions = [Session.model_validate(codec.unpack(r)) for r in raw]
        if day is not None:
            sessions = [s for s in sessions if s.day == day]
        return sorted(sessions, key=lambda s: (s.starts_at, s.id))
