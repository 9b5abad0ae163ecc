"""The reflections post end to end: the demo day replayed through the API, compiled by a real worker,
edited with optimistic concurrency, recompiled, published and broadcast."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from clients.demo import replay
from clients.demo_day import DAY, EVENT_ID
from server.store import Store

from conftest import ADMIN, ADMIN_TOKEN, ROOT, LiveServer

POST = f"/api/events/{EVENT_ID}/days/{DAY}/reflections"


async def _wait_for_draft(http: aiohttp.ClientSession, url: str, *, version: int = 1) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            async with http.get(url, headers=ADMIN) as response:
                if response.status == 200:
                    post = await response.json()
                    if post["status"] != "compiling" and post["version"] >= version:
                        return post  # type: ignore[no-any-return]
            await asyncio.sleep(0.1)


async def test_editor_compiles_edits_and_publishes(live_server_factory: Callable[..., LiveServer],
                                                  http: aiohttp.ClientSession, store_url: str,
                                                  prefix: str) -> None:  # fmt: skip
    server = live_server_factory(PLENARY_RUN_WORKER="true", PLENARY_PUBLISHER_NAME="Public Service Weekly")
    ids = await replay(server.url, ADMIN_TOKEN)
    url = server.url + POST
    async with http.get(url, headers=ADMIN) as before:
        assert before.status == 404
    async with http.post(url, headers=ADMIN) as response:
        assert response.status == 202
        assert (await response.json())["job"]
    draft = await _wait_for_draft(http, url)
    assert draft["status"] == "draft" and draft["version"] == 1 and draft["edited"] is False
    assert "Day 2 Reflections" in draft["title"]
    assert "Posted by Drew & Howard" in draft["markdown"]
    assert "by April" in draft["markdown"] and "by March" not in draft["markdown"]  # the edit, not the original
    assert "320 forms" not in draft["markdown"]  # deleted
    assert "<script" not in draft["html"] and "data-updates=" in draft["html"]
    assert draft["jsonld"]["@type"] == "BlogPosting"
    assert draft["sources"] and all(ids for ids in draft["sources"].values())
    # What the compiler folded or left out, for the editor to put back.
    assert {"into": ids["p-reddy"], "updates": [ids["p-repeat"]]} in draft["merged"]
    assert {"update": ids["doors"], "why": "logistics chatter"} in draft["dropped"]
    assert {"update": ids["wifi"], "why": "logistics chatter"} in draft["dropped"]

    # anyone may not read a draft
    async with http.get(url) as anonymous:
        assert anonymous.status == 404

    edited_md = draft["markdown"].replace("Posted by Drew & Howard", "Posted by Drew & Howard, edited by Eda")
    async with http.put(url, json={"markdown": edited_md, "version": 1}, headers=ADMIN) as saved:
        assert saved.status == 200
        body = await saved.json()
        assert body["version"] == 2 and body["edited"] is True and "edited by Eda" in body["html"]
        assert body["jsonld"]["mentions"] == draft["jsonld"]["mentions"]  # an edit keeps who was mentioned
    async with http.put(url, json={"markdown": "stale", "version": 1}, headers=ADMIN) as stale:
        assert stale.status == 409
        assert (await stale.json())["field"] == "version"

    async with http.post(url, headers=ADMIN) as refused:
        assert refused.status == 409  # the editor's work is not thrown away silently
    async with http.post(url, json={"replace": True}, headers=ADMIN) as replaced:
        assert replaced.status == 202
    recompiled = await _wait_for_draft(http, url, version=3)
    assert recompiled["edited"] is False and "edited by Eda" not in recompiled["markdown"]

    async with http.post(url + "/publish", headers=ADMIN) as published:
        assert published.status == 200
        assert (await published.json())["status"] == "published"
    async with http.get(url) as public:
        assert public.status == 200
        post = await public.json()
        assert post["status"] == "published" and post["title"] == recompiled["title"]
        assert "markdown" not in post or post.get("markdown") is None

    page_url = server.url + f"/events/{EVENT_ID}/days/{DAY}/reflections"
    async with http.get(page_url) as page:
        assert page.status == 200
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        html = await page.text()
    assert recompiled["title"] in html and "Posted by Drew &amp; Howard" in html
    assert "<script>" not in html and "alert(1)" not in html
    ld = json.loads(html.split('<script type="application/ld+json">')[1].split("</script>")[0])
    assert ld["@type"] == "BlogPosting" and ld["datePublished"] and ld["url"] == page_url
    assert {a["name"] for a in ld["author"]} == {"Drew", "Howard"}
    assert ld["headline"] == recompiled["title"] and ld["dateModified"] == ld["datePublished"]
    venue = {"@type": "Place", "name": "Manchester Central"}
    assert ld["about"] == {"@type": "Event", "name": "Connected Councils 2025", "startDate": "2025-10-08",
                           "endDate": "2025-10-09", "location": venue}  # fmt: skip
    assert {"@type": "Person", "name": "Helen Okafor", "jobTitle": "Chief Executive",
            "affiliation": {"@type": "Organization", "name": "Stockbridge City Council"}} in ld["mentions"]  # fmt: skip
    assert "David Osei" not in {p["name"] for p in ld["mentions"]}  # day one's speaker
    assert {"@type": "ImageObject", "url": "https://images.example.org/cc25/keynote-hall.jpg",
            "caption": "Helen Okafor on stage in a full Exchange Hall"} in ld["image"]  # fmt: skip
    assert ld["publisher"] == {"@type": "Organization", "name": "Public Service Weekly"}
    async with http.get(server.url + f"/events/{EVENT_ID}") as reader:
        assert f"/events/{EVENT_ID}/days/{DAY}/reflections" in await reader.text()

    store = await Store.open(store_url, prefix=prefix)
    try:
        entries = [e async for e in store.iter_log(EVENT_ID)]
    finally:
        await store.aclose()
    broadcast = [e for e in entries if e.type == "reflections"]
    assert len(broadcast) == 1
    assert broadcast[0].data["url"] == f"/events/{EVENT_ID}/days/{DAY}/reflections"


async def test_separate_worker_processes_compile_each_job_once(live_server_factory: Callable[..., LiveServer],
                                                               http: aiohttp.ClientSession, store_url: str,
                                                               prefix: str, tmp_path: Path) -> None:  # fmt: skip
    server = live_server_factory()  # no in-process worker
    await replay(server.url, ADMIN_TOKEN)
    env = {**os.environ, "PLENARY_REDIS_URL": store_url, "PLENARY_REDIS_PREFIX": prefix}
    workers = []
    for i in range(2):
        with (tmp_path / f"w{i}.log").open("wb") as log:
            workers.append(subprocess.Popen([sys.executable, "-m", "workers"], cwd=ROOT, env=env,
                                            stdout=log, stderr=subprocess.STDOUT))  # fmt: skip
    try:
        async with http.post(server.url + POST, headers=ADMIN) as response:
            assert response.status == 202
        draft = await _wait_for_draft(http, server.url + POST)
        await asyncio.sleep(1.0)  # a second run of the same job would bump the version
        again = await _wait_for_draft(http, server.url + POST)
        assert draft["version"] == again["version"] == 1
        assert "Posted by Drew & Howard" in draft["markdown"]
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            assert worker.wait(15) == 0, (tmp_path / "w0.log").read_text()


async def test_bad_day_and_permissions(live_server_factory: Callable[..., LiveServer],
                                       http: aiohttp.ClientSession) -> None:  # fmt: skip
    server = live_server_factory()
    await replay(server.url, ADMIN_TOKEN, steps=[])
    base = server.url + f"/api/events/{EVENT_ID}/days"
    async with http.post(f"{base}/2030-01-01/reflections", headers=ADMIN) as response:
        assert response.status == 404
    async with http.post(f"{base}/yesterday/reflections", headers=ADMIN) as response:
        assert response.status == 422
    async with http.post(f"{base}/{DAY}/reflections") as response:
        assert response.status == 401
    async with http.post(f"{base}/{DAY}/reflections/publish", headers=ADMIN) as response:
        assert response.status == 404
