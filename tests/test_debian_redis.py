"""Plenary on Debian's Redis 7.0 (package redis-tools, whose redis-check-rdb binary is the server)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from config.settings import Settings
from server.app import UnsafeStore, create_app
from server.embedded import EmbeddedValkey

from conftest import ADMIN, EVENT

DEBIAN_BINARY = Path("/usr/bin/redis-check-rdb")
AT = "2011-10-11T10:00:00+01:00"


@pytest.fixture
def redis_binary(tmp_path: Path) -> Path:
    """A `redis-server` for Debian's binary (it acts as the server when called by that name)."""
    if not DEBIAN_BINARY.exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's redis-tools is missing: .ci/run installs it")
        pytest.skip("Debian Redis 7.0 tests: redis-tools is missing; enable with: sudo apt-get install redis-tools")
    link = tmp_path / "bin" / "redis-server"
    link.parent.mkdir()
    link.symlink_to(DEBIAN_BINARY)
    return link


@pytest.fixture
def debian_redis(redis_binary: Path, tmp_path: Path) -> Iterator[str]:
    with EmbeddedValkey(tmp_path / "redis", binary=redis_binary) as url:
        yield url


def _settings(url: str, tmp_path: Path) -> Settings:
    return Settings(redis_url=url, admin_token=ADMIN["Authorization"].split()[1], data_dir=tmp_path, run_worker=False,
                    rate_limits=False)  # fmt: skip


async def test_everything_works_on_redis_7_0(aiohttp_client: Any, debian_redis: str, tmp_path: Path) -> None:
    client = await aiohttp_client(create_app(_settings(debian_redis, tmp_path)))
    assert (await client.post("/api/events", json=EVENT, headers=ADMIN)).status == 201
    url = "/api/events/socitm-2011/updates"
    async with client.ws_connect("/ws/events/socitm-2011") as ws:
        posted = await client.post(url, json={"text": "on Debian", "happened_at": AT},
                                   headers={**ADMIN, "Idempotency-Key": "k1"})  # fmt: skip
        assert posted.status == 201
        update = await posted.json()
        message = await ws.receive_json(timeout=5)
        assert message["type"] == "update" and message["data"]["id"] == update["id"]
    again = await client.post(url, json={"text": "on Debian", "happened_at": AT},
                              headers={**ADMIN, "Idempotency-Key": "k1"})  # fmt: skip
    assert (await again.json())["id"] == update["id"]
    edited = await client.patch(f"{url}/{update['id']}", json={"text": "edited on Debian"}, headers=ADMIN)
    assert edited.status == 200
    listing = await (await client.get(url + "?day=2011-10-11")).json()
    assert [u["text"] for u in listing["updates"]] == ["edited on Debian"]
    assert (await client.delete(f"{url}/{update['id']}", headers=ADMIN)).status == 204
    tokens = await client.post("/api/tokens", json={"name": "Drew", "role": "reporter"}, headers=ADMIN)
    assert tokens.status == 201
    assert (await client.delete("/api/tokens/Drew", headers=ADMIN)).status == 204


async def test_redis_7_0_without_fsync_always_is_refused(redis_binary: Path, tmp_path: Path) -> None:
    """Redis 7.0 has no WAITAOF, so with a lazy fsync an acknowledged write could be lost."""
    lazy = EmbeddedValkey(tmp_path / "lazy", binary=redis_binary, extra_args=["--appendfsync", "everysec"])
    with lazy as url:
        runner = web.AppRunner(create_app(_settings(url, tmp_path)))
        with pytest.raises(UnsafeStore, match="WAITAOF"):
            await runner.setup()
        await runner.cleanup()
