"""Feed messages and their wire forms (WebSocket JSON/msgpack frames, SSE events), each built once per message; pure.

A message is decoded once; each form is built at most once, on first use, complete with its WebSocket frame
header or HTTP/1.1 chunk header, and the same ``bytes`` object is written to every reader of that form.
"""

from __future__ import annotations

import struct
from enum import StrEnum
from typing import Any, Final

from server import codec
from server.feed.core import Position
from server.store import Entry

SLOW_READER_CODE: Final = 4008
SLOW_READER_REASON: Final = "slow reader: reconnect with after"
GOING_AWAY_CODE: Final = 1001
GOING_AWAY_REASON: Final = "server restarting: reconnect with after"


class Format(StrEnum):
    """A wire form of feed messages."""

    JSON = "json"  # WebSocket text frame
    MSGPACK = "msgpack"  # WebSocket binary frame
    SSE = "sse"  # SSE event (HTTP/1.0: raw body)
    SSE_CHUNKED = "sse-chunked"  # SSE event inside one HTTP/1.1 chunk

    @property
    def is_sse(self) -> bool:
        return self in (Format.SSE, Format.SSE_CHUNKED)


def ws_frame(opcode: int, payload: bytes) -> bytes:
    """A final, unmasked (server-to-client) WebSocket frame."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def ws_close_frame(code: int, reason: str) -> bytes:
    return ws_frame(0x8, struct.pack("!H", code) + reason.encode())


def sse_chunk(body: bytes) -> bytes:
    """``body`` as one HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(body), body)


KEEPALIVE_SSE: Final = b": keep-alive\n\n"
KEEPALIVE_SSE_CHUNK: Final = sse_chunk(KEEPALIVE_SSE)
KEEPALIVE_PING: Final = ws_frame(0x9, b"")


def keepalive(fmt: Format) -> bytes:
    """The keep-alive a reader of ``fmt`` gets: an SSE comment or a WebSocket ping (one shared frame)."""
    if fmt is Format.SSE_CHUNKED:
        return KEEPALIVE_SSE_CHUNK
    return KEEPALIVE_SSE if fmt is Format.SSE else KEEPALIVE_PING


class Message:
    """One feed message, decoded once; each wire form is built at most once, on first use.

    ``position`` orders messages by seq; the resync message has none and is always delivered.
    """

    __slots__ = ("_bodies", "_frames", "data", "position", "session", "type")

    def __init__(self, kind: str, seq: str, data: dict[str, Any]) -> None:
        self.type = kind
        self.data = data
        self.position: Position | None = Position.of(seq) if seq else None
        # the session a filtered reader matches on; None: every filtered reader gets it. Edits and deletes go
        # to every filtered reader: an edit may move an update out of the session, and only the client knows
        # what it shows (it drops an edit whose session is not its own, removing the update if shown).
        if kind == "session":
            self.session: str | None = str(data.get("id"))
        elif kind == "update":
            value = data.get("session")
            self.session = str(value) if value else ""
        else:
            self.session = None
        self._bodies: dict[Format, bytes] = {}
        self._frames: dict[Format, bytes] = {}

    @classmethod
    def from_entry(cls, entry: Entry) -> Message:
        return cls(entry.type, entry.seq, dict(entry.data))

    @classmethod
    def from_published(cls, raw: bytes) -> Message:
        """Decode what the append scripts PUBLISH: ``seq \\n type \\n msgpack``.

        Raises:
            ValueError: not in that form.
        """
        seq, kind, payload = raw.split(b"\n", 2)
        message = codec.entry_to_message(seq.decode(), kind.decode(), payload)
        return cls(message["type"], message["seq"], message["data"])

    @property
    def seq(self) -> str:
        return "" if self.position is None else self.position.seq

    @property
    def is_resync(self) -> bool:
        return self.position is None

    def obj(self) -> dict[str, Any]:
        if self.is_resync:
            return {"type": "resync"}
        return codec.message(self.type, self.seq, self.data)

    def body(self, fmt: Format) -> bytes:
        """The payload: JSON text, msgpack, or the SSE event text (the same for both SSE forms)."""
        if fmt is Format.SSE_CHUNKED:
            fmt = Format.SSE
        body = self._bodies.get(fmt)
        if body is None:
            if fmt is Format.MSGPACK:
                body = codec.pack(self.obj())
            elif fmt is Format.JSON:
                body = codec.to_json(self.obj()).encode()
            else:
                head = b"id: %s\n" % self.seq.encode() if self.position is not None else b""
                body = b"%sevent: %s\ndata: %s\n\n" % (head, self.type.encode(), self.body(Format.JSON))
            self._bodies[fmt] = body
        return body

    def frame(self, fmt: Format) -> bytes:
        """The bytes to write to a transport as they are."""
        frame = self._frames.get(fmt)
        if frame is None:
            if fmt is Format.JSON:
                frame = ws_frame(0x1, self.body(fmt))
            elif fmt is Format.MSGPACK:
                frame = ws_frame(0x2, self.body(fmt))
            elif fmt is Format.SSE_CHUNKED:
                frame = sse_chunk(self.body(fmt))
            else:
                frame = self.body(fmt)
            self._frames[fmt] = frame
        return frame

    def matches(self, session: str | None) -> bool:
        """Whether a reader filtered on ``session`` (None: not filtered) gets this message (edits and deletes go
        to every filtered reader)."""
        return session is None or self.session is None or self.session == session

    def __repr__(self) -> str:
        return f"Message({self.type!r}, {self.seq!r})"


def resync() -> Message:
    """``{"type": "resync"}``: the reader's position is gone from the log; it reloads and follows from now."""
    return Message("resync", "", {})
