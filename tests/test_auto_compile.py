"""The day-end cron: each due day of an event is queued once across workers, never over an editor's draft."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from config.settings import Settings
from server.appkeys import STORE
from server.errors import StoreUnavailable
from server.reflections_store import Reflections
from workers.queue import auto_compile, open_queue

from conftest import make_event


async def test_due_days_are_queued_once_and_an_edited_draft_is_left_alone(client: Any, settings: Settings) -> None:
    today = dt.datetime.now(dt.UTC).date()
    first, last = today - dt.timedelta(days=2), today - dt.timedelta(days=1)
    await make_event(client, id="past-conf", starts_on=str(first), ends_on=str(last))
    store = client.app[STORE]
    # an editor has already compiled and edited the first day's draft
    await store.client.hset(store.keys.reflections("past-conf", first), mapping={"status": "draft", "edited": "1"})
    queue = await open_queue(settings)
    try:
        ctx = {"store": store, "settings": settings, "redis": queue}
        assert await auto_compile(ctx) == 1  # the second day only
        assert await auto_compile(ctx) == 0  # claimed: another worker's run queues nothing
        assert await store.client.hget(store.keys.reflections("past-conf", last), "compiling")
        assert await store.client.hget(store.keys.reflections("past-conf", first), "compiling") is None
    finally:
        await queue.aclose()


async def test_a_store_error_releases_the_days_claim(client: Any, settings: Settings) -> None:
    """A run that claimed a day and then hit a store error leaves the day to the next run (not for 14 days)."""

    class FailsOnce(Reflections):
        failed = False

        async def request_compile(self, event: str, day: dt.date, job: str, *, replace: bool) -> None:
            if not self.failed:
                self.failed = True
                raise StoreUnavailable("the store went away")
            await super().request_compile(event, day, job, replace=replace)

    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    await make_event(client, id="past-conf", starts_on=str(yesterday), ends_on=str(yesterday))
    store = client.app[STORE]
    queue = await open_queue(settings)
    try:
        ctx = {"store": store, "settings": settings, "redis": queue, "reflections": FailsOnce(store)}
        with pytest.raises(StoreUnavailable):
            await auto_compile(ctx)
        assert await auto_compile(ctx) == 1
    finally:
        await queue.aclose()
