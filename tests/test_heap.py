"""The heap keeper: survivors of a full collection are frozen; frozen garbage is reclaimed once readers leave."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable, Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from server.heap import HeapKeeper


class _Node:
    """Part of a reference cycle: only the collector frees it."""

    def __init__(self) -> None:
        self.me = self


class Clock:
    """Time that passes only when the test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keeper(clock: Clock) -> Iterator[HeapKeeper]:
    gc.unfreeze()
    keeper = HeapKeeper(min_departures=10, clock=clock)
    keeper.install()
    yield keeper
    keeper.uninstall()


def _frozen_cycle(keeper: HeapKeeper) -> weakref.ref[_Node]:
    """A live cycle that survives a full collection (and so is frozen), then dropped."""
    node = _Node()
    gc.collect()
    keeper.tick(readers=100, departures=0)
    assert gc.get_freeze_count() > 0
    ref = weakref.ref(node)
    del node
    return ref


def test_survivors_of_a_full_collection_are_frozen_so_later_passes_skip_them(keeper: HeapKeeper) -> None:
    gc.collect(1)
    assert gc.get_freeze_count() == 0  # only a full pass freezes
    ref = _frozen_cycle(keeper)
    gc.collect(2)  # a later full pass skips frozen objects: the dropped cycle stays
    assert ref() is not None
    young = weakref.ref(_Node())
    gc.collect(2)  # what is not frozen yet is still collected
    assert young() is None


def test_enough_departures_collect_everything_and_free_frozen_garbage(keeper: HeapKeeper) -> None:
    ref = _frozen_cycle(keeper)  # its tick saw 100 readers
    keeper.tick(readers=100, departures=99)  # fewer than the 100 connected have left
    assert ref() is not None
    keeper.tick(readers=100, departures=100)
    assert ref() is None
    assert gc.get_freeze_count() > 0  # what survived is frozen again


def test_as_many_readers_must_leave_as_were_connected_and_an_hour_will_do_anyway(
    keeper: HeapKeeper, clock: Clock
) -> None:
    keeper.collect_everything(readers=100, departures=0)
    ref = _frozen_cycle(keeper)  # its tick saw 100 readers
    keeper.tick(readers=400, departures=0)
    keeper.tick(readers=50, departures=399)  # 400 were connected at the most: a drop to 50 is not enough
    assert ref() is not None
    clock.now += keeper.full_every - 1  # not quite an hour
    keeper.tick(readers=50, departures=399)
    assert ref() is not None
    clock.now += 1  # an hour has passed; still not enough readers have left
    keeper.tick(readers=50, departures=399)
    assert ref() is None


async def test_the_server_keeps_its_heap_only_while_it_runs(make_app: Callable[..., web.Application]) -> None:
    """With freeze_heap the app installs the keeper at start-up and takes it away, unfrozen, at clean-up."""
    gc.unfreeze()
    hooks = list(gc.callbacks)
    async with TestClient(TestServer(make_app(freeze_heap=True))) as client:
        assert (await client.get("/readyz")).status == 200
        assert len(gc.callbacks) == len(hooks) + 1
        gc.collect()
        assert gc.get_freeze_count() > 0
    assert gc.callbacks == hooks and gc.get_freeze_count() == 0
