"""The wire: msgpack inside Redis and in binary frames, JSON in text frames and SSE. Pure."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import msgpack


def pack(data: Mapping[str, Any]) -> bytes:
    """Encode a record for Redis (msgpack)."""
    return msgpack.packb(data, use_bin_type=True)  # type: ignore[no-any-return]


def unpack(raw: bytes) -> dict[str, Any]:
    """Decode a record stored by :func:`pack`."""
    value = msgpack.unpackb(raw, raw=False)
    if not isinstance(value, dict):
        raise ValueError("stored record is not a map")
    return value


def utc_text(moment: dt.datetime) -> str:
    """An aware time as ISO 8601 in UTC with a ``Z`` (how the API and feeds write times)."""
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def to_json(data: Any) -> str:
    """Compact JSON text, UTF-8 characters kept as they are."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def message(kind: str, seq: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """A live-feed message as API.md describes it: ``{"type", "seq", "data"}``."""
    return {"type": kind, "seq": seq, "data": data}


def entry_to_message(seq: str, kind: str, payload: bytes) -> dict[str, Any]:
    """Turn one log entry (its stream id, type and msgpack payload) into a feed message.

    An ``update`` entry is the update's first version, whose ``seq`` is the entry's own id.
    """
    data = unpack(payload)
    if kind == "update":
        data.setdefault("seq", seq)
    return message(kind, seq, data)


def seq_key(seq: str) -> tuple[int, int]:
    """Order of a seq (``<ms>-<n>``) for comparisons inside the server; clients treat seq as opaque."""
    ms, _, n = seq.partition("-")
    return int(ms), int(n or 0)
