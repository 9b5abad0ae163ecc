"""Tokens: shown once, stored as a hash, revoked at once."""

from __future__ import annotations

import asyncio
import datetime as dt
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


async def test_byline_names_in_any_script_are_stored_nfc_and_revoked_percent_encoded(client: Any) -> None:
    await make_event(client)
    decomposed = "Chloe\u0301"  # "Chloé" typed with a combining accent
    response = await client.post("/api/tokens", json={"name": decomposed, "role": "reporter",
                                                      "events": ["socitm-2011"]}, headers=ADMIN)  # fmt: skip
    assert response.status == 201
    created = await response.json()
    assert created["name"] == "Chloé" and created["id"]
    chloe = {"Authorization": f"Bearer {created['token']}"}
    post = await client.post("/api/events/socitm-2011/updates", json={"text": "Bonjour", "happened_at": AT},
                             headers=chloe)  # fmt: skip
    assert (await post.json())["author"] == {"name": "Chloé"}  # the byline; the token id stays out of records
    for name in ("José María", "李雷", "O'Brien-Smith", "Dr. Ana 2"):
        assert (await client.post("/api/tokens", json={"name": name, "role": "reporter"}, headers=ADMIN)).status == 201
    again = await client.post("/api/tokens", json={"name": "Chloé", "role": "reporter"}, headers=ADMIN)
    assert again.status == 409  # the same name in either spelling is one name
    assert (await client.delete("/api/tokens/Chloe%CC%81", headers=ADMIN)).status == 204  # decomposed, encoded
    assert (await client.delete("/api/tokens/%E6%9D%8E%E9%9B%B7", headers=ADMIN)).status == 204  # 李雷
    for name, status in (("Chloé", 201), ("李雷", 201), ("José María", 409)):  # revoked names are free again
        response = await client.post("/api/tokens", json={"name": name, "role": "reporter"}, headers=ADMIN)
        assert response.status == status, name


async def test_names_outside_the_byline_alphabet_are_refused_naming_the_field(client: Any) -> None:
    for name in ("", " Drew", "Drew ", "Drew  Smith", "Drew!", "a_b", "x@y", "a\u200bb", "x" * 65, "<b>"):
        response = await client.post("/api/tokens", json={"name": name, "role": "reporter"}, headers=ADMIN)
        assert response.status == 422, name
        assert (await response.json())["field"] == "name", name


async def test_a_name_given_again_has_no_rights_over_the_old_tokens_updates(client: Any) -> None:
    await make_event(client)
    url = "/api/events/socitm-2011/updates"
    old = await make_token(client, "Drew")
    first = await client.post(url, json={"text": "old Drew", "happened_at": AT},
                              headers={**old, "Idempotency-Key": "k1"})  # fmt: skip
    update = await first.json()
    assert (await client.delete("/api/tokens/Drew", headers=ADMIN)).status == 204
    new = await make_token(client, "Drew")
    assert (await client.patch(f"{url}/{update['id']}", json={"text": "hijacked"}, headers=new)).status == 403
    assert (await client.delete(f"{url}/{update['id']}", headers=new)).status == 403
    same_key = {**new, "Idempotency-Key": "k1"}  # Drew's outbox retrying with a rotated token: no second copy
    replay = await client.post(url, json={"text": "old Drew", "happened_at": AT}, headers=same_key)
    assert replay.status == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert (await replay.json())["id"] == update["id"]
    assert (await client.patch(f"{url}/{update['id']}", json={"text": "hijacked"}, headers=new)).status == 403
    fresh = await client.post(
        url, json={"text": "new Drew", "happened_at": AT}, headers={**new, "Idempotency-Key": "k2"}
    )
    mine = await fresh.json()
    assert mine["id"] != update["id"] and mine["author"] == {"name": "Drew"}
    assert (await client.patch(f"{url}/{mine['id']}", json={"text": "mine"}, headers=new)).status == 200


async def test_setting_admin_token_is_revoked_for_every_process(
    client: Any, aiohttp_client: Any, make_app: Any
) -> None:
    other = await aiohttp_client(make_app())  # a second process on the same store, same setting
    assert (await other.post("/api/tokens", json={"name": "Y", "role": "admin"}, headers=ADMIN)).status == 201
    assert (await client.delete("/api/tokens/admin", headers=ADMIN)).status == 204
    refused = await other.post("/api/tokens", json={"name": "Z", "role": "admin"}, headers=ADMIN)
    assert refused.status == 401
    assert (await client.post("/api/tokens", json={"name": "X", "role": "admin"}, headers=ADMIN)).status == 401


async def test_token_expiry(client: Any) -> None:
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    refused = await client.post("/api/tokens", json={"name": "Old", "role": "editor", "expires_at": past},
                                headers=ADMIN)  # fmt: skip
    assert refused.status == 422 and "expires_at" in await refused.text()
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    made = await client.post("/api/tokens", json={"name": "Brief", "role": "editor", "expires_at": soon.isoformat()},
                             headers=ADMIN)  # fmt: skip
    assert made.status == 201
    brief = {"Authorization": f"Bearer {(await made.json())['token']}"}
    assert (await client.post("/api/tokens", json={"name": "Q", "role": "admin"}, headers=brief)).status == 403
    # Waiting for the clock is the behaviour under test: the expiry is a moment, not an event.
    await asyncio.sleep(max(0.0, (soon - dt.datetime.now(dt.UTC)).total_seconds()) + 0.1)
    expired = await client.post("/api/tokens", json={"name": "Q", "role": "admin"}, headers=brief)
    assert expired.status == 401 and "expired" in await expired.text()


async def test_audit_records_who_created_and_revoked_which_token(client: Any) -> None:
    editor = await make_token(client, "Eda", "editor")
    assert (await client.get("/api/audit/tokens", headers=editor)).status == 403
    assert (await client.get("/api/audit/tokens")).status == 401
    ops = await make_token(client, "Ops", "admin")
    await make_token(client, "Drew")
    assert (await client.delete("/api/tokens/Drew", headers=ops)).status == 204
    assert (await client.delete("/api/tokens/admin", headers=ops)).status == 204
    response = await client.get("/api/audit/tokens", headers=ops)
    assert response.status == 200
    entries = (await response.json())["entries"]
    seen = [(e["who"], e["what"], e["name"], e["role"]) for e in entries]
    assert seen == [
        ("admin", "create", "Eda", "editor"),
        ("admin", "create", "Ops", "admin"),
        ("admin", "create", "Drew", "reporter"),
        ("Ops", "revoke", "Drew", "reporter"),
        ("Ops", "revoke", "admin (admin_token setting)", "admin"),
    ]
    assert all(dt.datetime.fromisoformat(e["at"]).tzinfo is not None for e in entries)
