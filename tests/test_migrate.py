"""Upgrading from 0.1.0: data written under 0.1.0's key names is moved by `plenary store migrate` and then read,
edited and followed live through the current API as before."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import redis.asyncio as aioredis

from clients.cli import main
from server import codec
from server.auth import digest
from tests.conftest import ADMIN

EV = "socitm-2011"
REPORTER_TOKEN = "reporter-secret-0123456789abcdef"
EVENT = {"id": EV, "title": "SOCITM 2011", "venue": "the NEC", "timezone": "Europe/London",
         "starts_on": "2011-10-10", "ends_on": "2011-10-11", "blog_title": "Live from SOCITM"}  # fmt: skip
SESSION = {"id": "keynote", "event": EV, "title": "Opening keynote", "kind": "keynote", "speakers": [],
           "starts_at": "2011-10-10T09:00:00Z", "ends_at": "2011-10-10T10:00:00Z"}  # fmt: skip


def _member(seq: str, update_id: str) -> str:
    ms, _, n = seq.partition("-")
    return f"{int(ms):015d}-{int(n):010d}|{update_id}"


async def seed_010(r: Any, p: str) -> dict[str, str]:
    """What 0.1.0's scripts wrote (server/redis_store.py at dfb0cc3): an event, a session, a reporter token, three
    updates (one pinned by the admin, one edited), their log, indexes, an idempotency key and reader counts.
    Returns update id -> seq."""
    await r.hset(f"{p}:events", EV, codec.pack(EVENT))  # _CREATE_EVENT
    token = codec.pack({"name": "Alice", "role": "reporter", "events": [EV], "hash": digest(REPORTER_TOKEN)})
    await r.hset(f"{p}:tokens", "Alice", token)  # _CREATE_TOKEN: by name and by digest
    await r.set(f"{p}:token:{digest(REPORTER_TOKEN)}", token)
    log = f"{p}:ev:{EV}:log"
    session = codec.pack({**SESSION, "day": "2011-10-10"})  # _APPEND with the sessions hash (Session, dumped)
    await r.hset(f"{p}:ev:{EV}:sessions", "keynote", session)
    await r.xadd(log, {"t": "session", "d": session})
    seqs: dict[str, str] = {}
    for update_id, author, text, pinned in (("aaaa000000000001", "Alice", "Doors open", False),
                                            ("aaaa000000000002", "admin", "Welcome", True),
                                            ("aaaa000000000003", "Alice", "Keynote starts", False)):  # fmt: skip
        record = {"id": update_id, "event": EV, "session": "keynote", "author": {"name": author},
                  "happened_at": "2011-10-10T09:05:00Z", "received_at": "2011-10-10T09:05:01Z", "version": 1,
                  "text": text, "key": False, "pinned": pinned, "quote": None, "image": None, "tags": []}  # fmt: skip
        payload = codec.pack(record)  # _CREATE
        seq = (await r.xadd(log, {"t": "update", "d": payload})).decode()
        seqs[update_id] = seq
        await r.hset(f"{p}:ev:{EV}:u:{update_id}", mapping={"seq": seq, "v": "1", "d": payload})
        for index in ("idx", "day:2011-10-10", "ses:keynote"):
            await r.zadd(f"{p}:ev:{EV}:{index}", {_member(seq, update_id): 0})
        if pinned:
            await r.set(f"{p}:ev:{EV}:pinned", update_id)
        if update_id.endswith("3"):
            edited = codec.pack({**record, "version": 2, "text": "Keynote starts late"})  # _EDIT
            await r.xadd(log, {"t": "edit", "d": edited})
            await r.hset(f"{p}:ev:{EV}:u:{update_id}", mapping={"v": "2", "d": edited})
    await r.hset(f"{p}:ev:{EV}:refl:2011-10-10", mapping={  # saved, then published (reflections_publish)
        "version": "2", "status": "published", "edited": "1", "title": "Day 1 Reflections", "markdown": "Day one.",
        "html": "<p>Day one.</p>", "jsonld": "{}", "sources": "{}", "compiled_at": "2011-10-10T18:00:00Z",
        "pub_title": "Day 1 Reflections", "pub_html": "<p>Day one.</p>", "pub_jsonld": "{}",
        "published_at": "2011-10-10T18:05:00Z"})  # fmt: skip
    await r.hset(f"{p}:idem:{EV}:Alice:k1", mapping={"fp": "x", "seq": seqs["aaaa000000000001"], "id": "a"})
    await r.hset(f"{p}:ev:{EV}:readers", "proc1", 3)
    await r.set(f"{p}:proc:proc1:alive", 1, ex=60)
    return seqs


def _migrate(capsys: pytest.CaptureFixture[str], store_url: str, prefix: str,
             monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:  # fmt: skip
    """Run `plenary store migrate` on the test store and prefix; its exit status and stdout+stderr."""
    monkeypatch.setenv("PLENARY_REDIS_PREFIX", prefix)
    code = main(["store", "migrate", "--redis-url", store_url])
    out, err = capsys.readouterr()
    return code, out + err


async def test_010_data_is_read_edited_and_followed_after_migrate(
    aiohttp_client: Any, make_app: Any, store_url: str, prefix: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    async with aioredis.Redis.from_url(store_url) as r:
        seqs = await seed_010(r, prefix)
        code, out = await _in_thread(lambda: _migrate(capsys, store_url, prefix, monkeypatch))
        assert code == 0, out
        assert "updates: 3" in out and "tokens: 1" in out and "logs: 1" in out and "reflections posts: 1" in out
        assert not [k async for k in r.scan_iter(match=f"{prefix}:ev:{EV}:*")]  # nothing left under old names
        assert not await r.exists(f"{prefix}:events", f"{prefix}:tokens", f"{prefix}:token:{digest(REPORTER_TOKEN)}")

        code, out = await _in_thread(lambda: _migrate(capsys, store_url, prefix, monkeypatch))
        assert code == 0 and "nothing to do" in out, out  # running it again is harmless

    client = await aiohttp_client(make_app())
    event = await (await client.get(f"/api/events/{EV}")).json()
    assert event["title"] == "SOCITM 2011"
    sessions = await (await client.get(f"/api/events/{EV}/sessions")).json()
    assert [s["id"] for s in sessions["sessions"]] == ["keynote"]
    listed = (await (await client.get(f"/api/events/{EV}/updates")).json())["updates"]
    assert [(u["id"], u["seq"]) for u in listed] == list(seqs.items())
    assert [u["pinned"] for u in listed] == [False, True, False]
    assert listed[2]["text"] == "Keynote starts late" and listed[2]["version"] == 2
    of_session = (await (await client.get(f"/api/events/{EV}/updates?session=keynote")).json())["updates"]
    assert len(of_session) == 3

    post = await client.get(f"/api/events/{EV}/days/2011-10-10/reflections", headers=ADMIN)
    assert (await post.json())["markdown"] == "Day one."  # the draft editors work on
    page = await client.get(f"/events/{EV}/days/2011-10-10/reflections")
    assert page.status == 200 and "Day one." in await page.text()  # the published post

    alice = {"Authorization": f"Bearer {REPORTER_TOKEN}"}
    own = await client.patch(f"/api/events/{EV}/updates/aaaa000000000003", json={"text": "Keynote over"},
                             headers=alice)  # fmt: skip
    assert own.status == 200, await own.text()
    assert (await own.json())["version"] == 3
    others = await client.patch(f"/api/events/{EV}/updates/aaaa000000000002", json={"text": "mine now"},
                                headers=alice)  # fmt: skip
    assert others.status == 403  # the admin's update stays the admin's

    async with client.ws_connect(f"/ws/events/{EV}?after={seqs['aaaa000000000001']}") as ws:
        got = [json.loads((await ws.receive(timeout=10)).data) for _ in range(4)]
        assert [m["type"] for m in got] == ["update", "update", "edit", "edit"]
        assert got[0]["seq"] == seqs["aaaa000000000002"] and got[3]["data"]["text"] == "Keynote over"
        posted = await client.post(f"/api/events/{EV}/updates", json={"text": "After the upgrade",
                                  "happened_at": "2011-10-10T11:00:00Z"}, headers=alice)  # fmt: skip
        assert posted.status == 201, await posted.text()
        live = json.loads((await ws.receive(timeout=10)).data)
        assert live["type"] == "update" and live["data"]["text"] == "After the upgrade"
    assert (await client.delete("/api/tokens/Alice", headers=ADMIN)).status == 204  # found by name, and by digest:
    revoked = await client.patch(f"/api/events/{EV}/updates/aaaa000000000003", json={"text": "x"}, headers=alice)
    assert revoked.status == 401


async def test_serve_moves_010_data_before_serving(aiohttp_client: Any, make_app: Any, store_url: str,
                                                   prefix: str, caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    async with aioredis.Redis.from_url(store_url) as r:
        seqs = await seed_010(r, prefix)
    with caplog.at_level(logging.WARNING):
        client = await aiohttp_client(make_app())  # this version started on 0.1.0's data
    assert "moved Plenary 0.1.0 data" in caplog.text and "updates 3" in caplog.text
    listed = (await (await client.get(f"/api/events/{EV}/updates")).json())["updates"]
    assert [(u["id"], u["seq"]) for u in listed] == list(seqs.items())
    alice = {"Authorization": f"Bearer {REPORTER_TOKEN}"}
    own = await client.patch(f"/api/events/{EV}/updates/aaaa000000000001", json={"text": "Doors shut"},
                             headers=alice)  # fmt: skip
    assert own.status == 200, await own.text()


async def test_migrate_refuses_a_cluster(store_url: str, prefix: str, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("PLENARY_REDIS_CLUSTER", "true")
    code, out = await _in_thread(lambda: _migrate(capsys, store_url, prefix, monkeypatch))
    assert code == 2
    assert "Redis Cluster" in out


async def _in_thread(work: Any) -> Any:
    """The CLI runs its own event loop (asyncio.run): run it beside the test's loop."""
    import asyncio

    return await asyncio.to_thread(work)


async def test_an_interrupted_migration_run_again_keeps_every_record_and_token(
    client: Any, store_url: str, prefix: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped after the tokens, one update and the log had moved (a server of this version running all along):
    the second run finishes the rest, and the ids the first run gave the tokens still own their updates."""
    from server.store.migrate import _Migration

    async with aioredis.Redis.from_url(store_url) as r:
        seqs = await seed_010(r, prefix)
        first = _Migration(r, prefix)
        owners = await first.tokens()
        await first.event_key(f"{prefix}:ev:{EV}:u:aaaa000000000001", EV, "u:aaaa000000000001", owners)
        await first.event_key(f"{prefix}:ev:{EV}:log", EV, "log", owners)
        code, out = await _in_thread(lambda: _migrate(capsys, store_url, prefix, monkeypatch))
        assert code == 0, out
        assert not await r.exists(f"{prefix}:events")
    listed = (await (await client.get(f"/api/events/{EV}/updates")).json())["updates"]
    assert [(u["id"], u["seq"]) for u in listed] == list(seqs.items())
    alice = {"Authorization": f"Bearer {REPORTER_TOKEN}"}
    own = await client.patch(f"/api/events/{EV}/updates/aaaa000000000001", json={"text": "Doors shut"},
                             headers=alice)  # fmt: skip
    assert own.status == 200, await own.text()


async def test_a_name_given_to_a_new_token_meanwhile_gets_no_rights_over_the_old_updates(
    client: Any, store_url: str, prefix: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with aioredis.Redis.from_url(store_url) as r:
        await seed_010(r, prefix)
        made = await client.post("/api/tokens", json={"name": "Alice", "role": "reporter", "events": [EV]},
                                 headers=ADMIN)  # fmt: skip
        assert made.status == 201
        code, out = await _in_thread(lambda: _migrate(capsys, store_url, prefix, monkeypatch))
        assert code == 1 and "token 'Alice': kept" in out, out
        assert await r.hexists(f"{prefix}:tokens", "Alice")  # the 0.1.0 token is kept, not overwritten
        assert await r.exists(f"{prefix}:token:{digest(REPORTER_TOKEN)}")
    new_alice = {"Authorization": f"Bearer {(await made.json())['token']}"}
    taken = await client.patch(f"/api/events/{EV}/updates/aaaa000000000001", json={"text": "mine"},
                               headers=new_alice)  # fmt: skip
    assert taken.status == 403
