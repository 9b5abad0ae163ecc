"""Who is asking: Origin checks on both feed transports and the client address behind trusted proxies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import EVENT, make_event

EV = EVENT["id"]


async def test_dns_rebinding_cannot_open_a_websocket_feed(client: TestClient) -> None:  # type: ignore[type-arg]
    await make_event(client)
    rebound = {"Host": "evil.example", "Origin": "http://evil.example"}
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect(f"/ws/events/{EV}", headers=rebound)
    assert refused.value.status == 403


async def test_sse_checks_the_origin(client: TestClient) -> None:  # type: ignore[type-arg]
    await make_event(client)
    response = await client.get(f"/api/events/{EV}/stream", headers={"Origin": "https://evil.example"})
    assert response.status == 403
    assert response.content_type == "application/problem+json"
    async with client.get(f"/api/events/{EV}/stream") as plain:  # no Origin: not a browser's cross-site request
        assert plain.status == 200


async def test_public_url_is_the_only_own_origin(aiohttp_client: Any, make_app: Callable[..., Any]) -> None:
    client = await aiohttp_client(make_app(public_url="https://live.example"))
    await make_event(client)
    own = f"http://{client.host}:{client.port}"
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await client.ws_connect(f"/ws/events/{EV}", headers={"Origin": own})
    async with client.ws_connect(f"/ws/events/{EV}", headers={"Origin": "https://live.example"}) as ws:
        assert not ws.closed


async def test_forwarded_address_is_ignored_unless_the_peer_is_trusted(
    aiohttp_client: Any, make_app: Callable[..., Any]
) -> None:
    outside = {"X-Forwarded-For": "203.0.113.9"}
    direct = await aiohttp_client(make_app())
    assert (await direct.get("/metrics", headers=outside)).status == 200  # the peer (loopback) counts
    proxied = await aiohttp_client(make_app(trusted_proxies=("127.0.0.0/8",)))
    response = await proxied.get("/metrics", headers=outside)
    assert response.status == 401  # through a trusted proxy the client is 203.0.113.9, outside metrics_allow
    spoofed = {"X-Forwarded-For": "127.0.0.1, 203.0.113.9"}  # a client cannot prepend a trusted hop
    assert (await proxied.get("/metrics", headers=spoofed)).status == 401
    allowed = await aiohttp_client(make_app(trusted_proxies=("127.0.0.0/8",), metrics_allow=("203.0.113.0/24",)))
    assert (await allowed.get("/metrics", headers=outside)).status == 200


async def test_canonical_urls_never_come_from_a_foreign_host_header(client: TestClient) -> None:  # type: ignore[type-arg]
    await make_event(client)
    page = await (await client.get(f"/events/{EV}", headers={"Host": "evil.example"})).text()
    assert "evil.example" not in page
    assert '<link rel="canonical" href="http://127.0.0.1:' in page
    atom = await (await client.get(f"/events/{EV}/feed.atom", headers={"Host": "evil.example"})).text()
    assert "evil.example" not in atom
    own = await (await client.get(f"/events/{EV}", headers={"Host": f"localhost:{client.port}"})).text()
    assert f'<link rel="canonical" href="http://localhost:{client.port}/events/{EV}"' in own  # loopback: its own


async def test_public_url_makes_every_canonical_url(aiohttp_client: Any, make_app: Callable[..., Any]) -> None:
    client = await aiohttp_client(make_app(public_url="https://live.example/"))
    await make_event(client)
    page = await (await client.get(f"/events/{EV}")).text()
    assert f'<link rel="canonical" href="https://live.example/events/{EV}"' in page
