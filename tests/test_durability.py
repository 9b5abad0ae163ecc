"""Every acknowledged update survives the store's death; an unsafe or absent store never answers 201."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from config.settings import Settings
from server.app import UnsafeStore, create_app
from server.embedded import EmbeddedValkey

from conftest import ADMIN, EVENT, free_port

AT = "2011-10-11T10:00:00+01:00"
URL = "/api/events/socitm-2011/updates"


def _settings(url: str, tmp_path: Path, **changes: Any) -> Settings:
    return Settings(
        redis_url=url,
        admin_token=ADMIN["Authorization"].split()[1],
        data_dir=tmp_path,
        run_worker=False,
        rate_limits=False,
        **changes,
    )


async def test_acknowledged_updates_survive_a_killed_store(aiohttp_client: Any, tmp_path: Path) -> None:
    store = EmbeddedValkey(tmp_path / "store")
    url = store.start()
    try:
        client = await aiohttp_client(create_app(_settings(url, tmp_path)))
        assert (await client.post("/api/events", json=EVENT, headers=ADMIN)).status == 201
        acknowledged = []
        for i in range(50):
            response = await client.post(URL, json={"text": f"update {i}", "happened_at": AT}, headers=ADMIN)
            assert response.status == 201
            acknowledged.append((await response.json())["id"])
        assert store.pid is not None
        os.kill(store.pid, signal.SIGKILL)  # no chance to flush anything more
        down = await client.post(URL, json={"text": "while down", "happened_at": AT}, headers=ADMIN)
        assert down.status == 503
        assert int(down.headers["Retry-After"]) > 0
        assert down.content_type == "application/problem+json"
        store.stop()
        store.start()  # replays the append-only file
        listing = await (await client.get(URL + "?limit=200")).json()
        assert [u["id"] for u in listing["updates"]] == acknowledged
        again = await client.post(URL, json={"text": "after restart", "happened_at": AT}, headers=ADMIN)
        assert again.status == 201
    finally:
        store.stop()


async def test_store_down_answers_503_never_201(aiohttp_client: Any, tmp_path: Path) -> None:
    app = create_app(_settings(f"redis://127.0.0.1:{free_port()}/0", tmp_path, redis_timeout=0.5))
    client = await aiohttp_client(app)
    response = await client.post(URL, json={"text": "nowhere", "happened_at": AT}, headers=ADMIN)
    assert response.status == 503
    assert "Retry-After" in response.headers
    assert (await client.get("/readyz")).status == 503
    assert (await client.get("/healthz")).status == 200


async def test_store_without_aof_is_refused_unless_allowed(tmp_path: Path) -> None:
    with EmbeddedValkey(tmp_path / "volatile", extra_args=["--appendonly", "no"]) as url:
        app = create_app(_settings(url, tmp_path))
        runner = web.AppRunner(app)
        with pytest.raises(UnsafeStore):
            await runner.setup()
        await runner.cleanup()
        relaxed = web.AppRunner(create_app(_settings(url, tmp_path, require_durable_store=False)))
        await relaxed.setup()  # starts, with a loud warning
        await relaxed.cleanup()


async def test_store_with_lazy_fsync_waits_for_aof(aiohttp_client: Any, tmp_path: Path) -> None:
    from server.appkeys import STORE
    from server.store import Durability

    with EmbeddedValkey(tmp_path / "lazy", extra_args=["--appendfsync", "everysec"]) as url:
        app = create_app(_settings(url, tmp_path))
        client = await aiohttp_client(app)
        assert app[STORE].durability is Durability.WAITAOF
        assert (await client.post("/api/events", json=EVENT, headers=ADMIN)).status == 201
        response = await client.post(URL, json={"text": "waited", "happened_at": AT}, headers=ADMIN)
        assert response.status == 201
