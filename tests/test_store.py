"""The store's own promises: one slot per operation (Redis Cluster), the pin moved inside the pinning write."""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.crc import key_slot

from config.settings import Settings
from server.models import Event
from server.store import Keys, Store

EV = "slots-2026"
DAY = dt.date(2026, 5, 4)


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    store = await Store.from_settings(settings)
    await store.check_durability()
    await store.create_event(Event(id=EV, title="Slots", starts_on=DAY, ends_on=DAY))
    yield store
    await store.aclose()


def _event_keys(keys: Keys, event: str) -> list[str]:
    """Every key and channel name of one event, by calling each Keys method that takes an event."""
    names = []
    for name, method in inspect.getmembers(keys, inspect.ismethod):
        params = list(inspect.signature(method).parameters)
        if name.startswith("_") or not params or params[0] != "event":
            continue
        names.append(method(event, *["x"] * (len(params) - 1)))
    return names


def test_every_key_of_an_event_hashes_to_one_slot() -> None:
    keys = Keys("plenary")
    for event in ("demo-2026", "slots-2026", "a"):
        names = _event_keys(keys, event)
        assert len(names) >= 10
        assert {key_slot(n.encode()) for n in names} == {key_slot(event.encode())}, names
    tokens = [keys.tokens(), keys.token_by_digest("ab" * 32), keys.token_by_digest("")]
    assert len({key_slot(n.encode()) for n in tokens}) == 1  # create and revoke are one script each
    alive = [keys.process_alive(p) for p in ("host-1-aa", "host-2-bb", "other-3-cc")]
    assert len({key_slot(n.encode()) for n in alive}) == 1  # reader counts read them with one MGET


def _record(update_id: str, *, pinned: bool) -> dict[str, Any]:
    return {"id": update_id, "event": EV, "session": None, "author": {"name": "Ana"},
            "happened_at": "2026-05-04T09:00:00Z", "received_at": "2026-05-04T09:00:00Z", "version": 1,
            "text": update_id, "key": False, "pinned": pinned, "quote": None, "image": None, "tags": []}  # fmt: skip


async def test_pinning_unpins_the_previous_in_the_same_write(store: Store) -> None:
    await store.create_update(EV, _record("aaaa", pinned=True), day=DAY)
    before = await store.last_seq(EV)
    await store.create_update(EV, _record("bbbb", pinned=True), day=DAY)
    entries = await store.read_after(EV, before)
    assert [(e.type, e.data["id"], e.data["pinned"]) for e in entries] == [
        ("edit", "aaaa", False),  # the unpin comes first: no reader ever sees two pinned updates
        ("update", "bbbb", True),
    ]
    a = await store.get_update(EV, "aaaa")
    assert a is not None and a["pinned"] is False and a["version"] == 2
    assert await store.pinned_id(EV) == "bbbb"


async def test_editing_to_pin_moves_the_pin_and_unpinning_clears_it(store: Store) -> None:
    await store.create_update(EV, _record("aaaa", pinned=True), day=DAY)
    await store.create_update(EV, _record("bbbb", pinned=False), day=DAY)
    b = await store.get_update(EV, "bbbb")
    assert b is not None
    await store.edit_update(EV, b, {**b, "pinned": True, "version": 2}, old_day=DAY, new_day=DAY)
    a = await store.get_update(EV, "aaaa")
    assert a is not None and a["pinned"] is False
    assert await store.pinned_id(EV) == "bbbb"
    b = await store.get_update(EV, "bbbb")
    assert b is not None
    await store.edit_update(EV, b, {**b, "pinned": False, "version": 3}, old_day=DAY, new_day=DAY)
    assert await store.pinned_id(EV) is None
