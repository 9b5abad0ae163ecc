"""gzip on the wire: pages, JSON lists, the Atom feed and static files, only for clients that accept it."""

from __future__ import annotations

import gzip
from typing import Any

import aiohttp

from conftest import ADMIN, make_event

UPDATES = "/api/events/socitm-2011/updates"


async def raw_get(client: Any, path: str, encoding: str | None) -> tuple[aiohttp.ClientResponse, bytes]:
    """The answer's bytes as they came over the wire (not decompressed by the client)."""
    headers = {"Accept-Encoding": encoding} if encoding is not None else {"Accept-Encoding": "identity"}
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        response = await session.get(client.make_url(path), headers=headers)
        return response, await response.read()


async def test_pages_lists_feed_and_assets_are_gzipped(client: Any) -> None:
    await make_event(client)
    for minute in range(30):
        body = {"text": f"Update {minute}: the panel discusses shared services", "happened_at": "2011-10-11T08:18:00Z"}
        assert (await client.post(UPDATES, json=body, headers=ADMIN)).status == 201
    for path in ("/events/socitm-2011", UPDATES, "/events/socitm-2011/feed.atom", "/static/reader.js"):
        plain, identity = await raw_get(client, path, None)
        packed, wire = await raw_get(client, path, "gzip, deflate, br")
        assert plain.status == packed.status == 200, path
        assert "Content-Encoding" not in plain.headers, path
        assert packed.headers["Content-Encoding"] == "gzip", path
        assert "Accept-Encoding" in packed.headers["Vary"] and "Accept-Encoding" in plain.headers["Vary"], path
        assert gzip.decompress(wire) == identity, path
        assert len(wire) * 2 < len(identity), (path, len(wire), len(identity))
    # q=0 refuses gzip; small answers are not worth it.
    refused, _ = await raw_get(client, "/events/socitm-2011", "gzip;q=0")
    assert "Content-Encoding" not in refused.headers
    small, _ = await raw_get(client, "/healthz", "gzip")
    assert "Content-Encoding" not in small.headers


async def test_live_stream_is_not_compressed(client: Any) -> None:
    await make_event(client)
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        url = client.make_url("/api/events/socitm-2011/stream")
        async with session.get(url, headers={"Accept-Encoding": "gzip"}) as response:
            assert response.status == 200 and "Content-Encoding" not in response.headers
