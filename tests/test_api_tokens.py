"""Tokens: shown once, stored as a hash, revoked at once."""

from __future__ import annotations

import hashlib
from typing import Any

import redis.asyncio as aioredis

from config.settings import Settings

from conftest import ADMIN, make_event, make_token

AT = "2011-10-11T10:00:00+01:00"


async def test_token_is_random_shown_once_and_only_its_hash_is_stored(client: Any, settings: Settings) -> None:
    response = await client.post("/api/tokens", json={"name": "Drew", "role": "reporter", "events": ["e1"]},
                                 headers=ADMIN)  # fmt: skip
    assert response.status == 201
    body = await response.json()
    token = body["token"]
    assert len(token) >= 22 and body["role"] == "reporter" and body["events"] == ["e1"]
    async with aioredis.Redis.from_url(settings.redis_url) as r:
        keys = [k async for k in r.scan_iter(f"{settings.redis_prefix}:*")]
        dump = b"".join([await r.dump(k) or b"" for k in keys])
    assert token.encode() not in dump
    assert hashlib.sha256(token.encode()).hexdigest().encode() in dump
    again = await client.post("/api/tokens", json={"name": "Drew", "role": "reporter"}, headers=ADMIN)
    assert again.status == 409


async def test_two_tokens_differ(client: Any) -> None:
    a = await make_token(client, "A")
    b = await make_token(client, "B")
    assert a != b


async def test_revoked_token_fails_on_next_request(client: Any) -> None:
    await make_event(client)
    drew = await make_token(client, "Drew")
    ok = await client.post("/api/events/socitm-2011/updates", json={"text": "hello", "happened_at": AT}, headers=drew)
    assert ok.status == 201
    assert (await client.delete("/api/tokens/Drew", headers=ADMIN)).status == 204
    again = {"text": "again", "happened_at": AT}
    refused = await client.post("/api/events/socitm-2011/updates", json=again, headers=drew)
    assert refused.status == 401
    assert (await client.delete("/api/tokens/Drew", headers=ADMIN)).status == 404


async def test_only_admin_manages_tokens(client: Any) -> None:
    editor = await make_token(client, "Eda", "editor")
    response = await client.post("/api/tokens", json={"name": "X", "role": "admin"}, headers=editor)
    assert response.status == 403
    assert "admin" in (await response.json())["detail"]
    assert (await client.post("/api/tokens", json={"name": "X", "role": "admin"})).status == 401
    bogus = {"Authorization": "Bearer not-a-token"}
    assert (await client.post("/api/tokens", json={"name": "X", "role": "admin"}, headers=bogus)).status == 401
    bad_role = await client.post("/api/tokens", json={"name": "X", "role": "king"}, headers=ADMIN)
    assert bad_role.status == 422
    assert (await bad_role.json())["field"] == "role"
