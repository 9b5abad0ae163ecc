"""Render once: every update carries the HTML made when it was written, in every answer, feed, page and Atom."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from server.appkeys import STORE

from conftest import make_event, make_token

EV = "socitm-2011"
URL = f"/api/events/{EV}/updates"
AT = "2011-10-11T10:00:00+01:00"
TEXT = "Vote *carried* on [the plan](https://example.org/plan) <script>alert(1)</script>"
HTML = '<em>carried</em> on <a href="https://example.org/plan" rel="nofollow noopener">the plan</a>'


async def test_html_is_made_at_write_and_carried_everywhere(client: Any) -> None:
    await make_event(client)
    drew = await make_token(client, "Drew")
    async with client.ws_connect(f"/ws/events/{EV}") as ws:
        created = await (await client.post(URL, json={"text": TEXT, "happened_at": AT}, headers=drew)).json()
        message = json.loads((await ws.receive(timeout=5)).data)
        assert message["type"] == "update" and message["data"]["html"] == created["html"]
        assert created["html"] == f"Vote {HTML}"
        edited = await client.patch(f"{URL}/{created['id']}", json={"text": "Now **lost**"}, headers=drew)
        assert (await edited.json())["html"] == "Now <strong>lost</strong>"
        message = json.loads((await ws.receive(timeout=5)).data)
        assert message["type"] == "edit" and message["data"]["html"] == "Now <strong>lost</strong>"
    one = await (await client.get(f"{URL}/{created['id']}")).json()
    listed = (await (await client.get(URL)).json())["updates"]
    assert one["html"] == listed[0]["html"] == "Now <strong>lost</strong>"
    page = await (await client.get(f"/events/{EV}")).text()
    assert '<div class="update-text">Now <strong>lost</strong></div>' in page
    atom = await (await client.get(f"/events/{EV}/feed.atom")).text()
    assert "Now &lt;strong&gt;lost&lt;/strong&gt;" in atom


async def test_an_update_written_before_html_was_stored_is_rendered_on_read(client: Any) -> None:
    await make_event(client)
    store = client.app[STORE]
    record = {
        "id": "old1", "event": EV, "session": None, "author": {"name": "Drew"}, "happened_at": "2011-10-11T09:00:00Z",
        "received_at": "2011-10-11T09:00:00Z", "version": 1, "text": "An *old* one", "key": False, "pinned": False,
        "quote": None, "image": None, "tags": [],
    }  # fmt: skip
    await store.create_update(EV, record, day=dt.date(2011, 10, 11))
    one = await (await client.get(f"{URL}/old1")).json()
    listed = (await (await client.get(URL)).json())["updates"]
    assert one["html"] == listed[0]["html"] == "An <em>old</em> one"
    async with client.ws_connect(f"/ws/events/{EV}?after=0-0") as ws:
        message = json.loads((await ws.receive(timeout=5)).data)
    assert message["data"]["html"] == "An <em>old</em> one"
    assert '<div class="update-text">An <em>old</em> one</div>' in await (await client.get(f"/events/{EV}")).text()
