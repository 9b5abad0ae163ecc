"""Bounded by design: random /static names leave nothing behind; slow or idle connections are closed."""

from __future__ import annotations

import asyncio
import secrets
import tracemalloc
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from server.pages.assets import asset

from conftest import LiveServer


def test_static_misses_are_not_remembered() -> None:
    asset("reader.js")  # the shipped files are read once, before measuring
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for _ in range(20_000):
            assert asset(f"{secrets.token_hex(8)}.js") is None
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 64 * 1024, f"{grown} bytes kept after 20,000 misses"  # a cache of misses keeps megabytes


async def _open(server: LiveServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    url = urlsplit(server.url)
    return await asyncio.open_connection(url.hostname, url.port)


async def test_a_client_that_never_finishes_its_headers_is_closed(
    live_server_factory: Callable[..., LiveServer],
) -> None:
    server = live_server_factory(PLENARY_IDLE_TIMEOUT_SECONDS="1")
    reader, writer = await _open(server)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    await writer.drain()
    async with asyncio.timeout(8):  # the idle time-out is 1 s; failing, this raises TimeoutError
        while True:  # one byte now and then, never the end of the headers
            try:
                writer.write(b"a")
                await writer.drain()
                if await asyncio.wait_for(reader.read(1024), 0.3) == b"":
                    break  # closed by the server
            except TimeoutError:
                continue
            except ConnectionError:
                break
    writer.close()


async def test_an_idle_connection_is_closed(live_server_factory: Callable[..., LiveServer]) -> None:
    server = live_server_factory(PLENARY_IDLE_TIMEOUT_SECONDS="1")
    reader, writer = await _open(server)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    async with asyncio.timeout(8):
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        length = int(
            next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
        )
        await reader.readexactly(length)
        assert await reader.read(1) == b""  # closed by the server, not by us
    writer.close()


async def test_overlong_headers_are_400(live_server_factory: Callable[..., LiveServer], http: Any) -> None:
    server = live_server_factory(PLENARY_MAX_HEADER_BYTES="2048")
    async with http.get(f"{server.url}/healthz", headers={"X-Big": "a" * 3000}) as response:
        assert response.status == 400
    async with http.get(f"{server.url}/healthz", headers={"X-Small": "a" * 1000}) as response:
        assert response.status == 200
