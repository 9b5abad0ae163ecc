"""Desk pages without a browser: routes, CSP, 404s, whoami, the preview tree, and deleting a session."""

from __future__ import annotations

import json
from typing import Any

from server import pages
from server.desk import html_tree

from conftest import ADMIN, ADMIN_TOKEN, make_event, make_token
from test_pages import parse

DESK = "/desk/events/socitm-2011"
EDITOR_DESK = f"{DESK}/days/2011-10-11"
SESSION = {"title": "Digital by default", "kind": "keynote", "starts_at": "2011-10-11T09:00:00+01:00",
           "speakers": [{"name": "Jos Creese", "organisation": "Socitm"}]}  # fmt: skip


def _config(html: str) -> dict[str, Any]:
    blocks = [text for attrs, text in parse(html).scripts if attrs.get("id") == "desk-config"]
    assert len(blocks) == 1
    return json.loads(blocks[0])  # type: ignore[no-any-return]


async def test_desk_pages_carry_the_strict_csp_and_no_inline_code(client: Any) -> None:
    await make_event(client)
    await client.put("/api/events/socitm-2011/sessions/keynote", json=SESSION, headers=ADMIN)
    for path, script in ((DESK, "reporter.js"), (EDITOR_DESK, "editor.js")):
        response = await client.get(path)
        assert response.status == 200, path
        assert response.headers["Content-Security-Policy"] == pages.csp(
            f"{response.url.host}:{response.url.port}", trusted_types="plenary-update plenary-desk"
        )
        assert "require-trusted-types-for 'script'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        html = await response.text()
        tree = parse(html)
        for tag, attrs in tree.tags:
            assert "style" not in attrs, (tag, attrs)
            assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        scripts = [attrs for attrs, _text in tree.scripts]
        modules = [a["src"] for a in scripts if a.get("type") == "module"]
        assert modules == [pages.asset_url(script)]
        assert all(a.get("src") or a.get("type") == "application/json" for a in scripts)  # no inline code
        config = _config(html)
        assert config["event"] == "socitm-2011" and config["timezone"] == "Europe/London"
        assert config["sessions"][0]["speakers"][0]["name"] == "Jos Creese"
        assert ADMIN_TOKEN not in html
        for label in ("token",):
            assert any(t == "label" and a.get("for") == label for t, a in tree.tags)
    editor = _config(await (await client.get(EDITOR_DESK)).text())
    assert editor["day"] == "2011-10-11" and editor["postUrl"] == "/events/socitm-2011/days/2011-10-11/reflections"


async def test_desk_assets_are_served(client: Any) -> None:
    """(That their code never turns an update into markup is test_desk_browser's injected-markup test.)"""
    types = {"js": "text/javascript", "css": "text/css"}
    for name in ("reporter.js", "editor.js", "desk-common.js", "desk.css"):
        response = await client.get(pages.asset_url(name))
        assert response.status == 200, name
        assert response.content_type == types[name.rsplit(".", 1)[1]], (name, response.content_type)
        assert await response.read()
    assert (await client.get("/static/reporter.html")).status == 404  # templates are not static files


async def test_unknown_events_and_days_are_404_pages(client: Any) -> None:
    await make_event(client)
    for path in ("/desk/events/nope", "/desk/events/BAD_SLUG", f"{DESK}/days/2011-10-12", f"{DESK}/days/tuesday",
                 f"{DESK}/days/2011-02-30"):  # fmt: skip
        response = await client.get(path)
        assert response.status == 404, path
        assert response.content_type == "text/html"
        assert "Content-Security-Policy" in response.headers


async def test_whoami_names_the_token_and_never_echoes_it(client: Any) -> None:
    await make_event(client)
    reporter = await make_token(client, "Drew")
    response = await client.get("/desk/whoami", headers=reporter)
    assert response.status == 200
    assert await response.json() == {"name": "Drew", "role": "reporter", "events": ["socitm-2011"]}
    assert response.headers["Cache-Control"] == "no-store"
    assert reporter["Authorization"].split()[1] not in await response.text()
    assert (await client.get("/desk/whoami")).status == 401
    assert (await client.get("/desk/whoami", headers={"Authorization": "Bearer nope"})).status == 401


async def test_preview_is_for_editors_and_returns_safe_nodes(client: Any) -> None:
    await make_event(client)
    reporter = await make_token(client, "Drew")
    editor = await make_token(client, "Eda", role="editor")
    md = "<!-- p1 updates: abc,def -->\nHello *there* <script>alert(1)</script> [x](javascript:alert(1))\n"
    assert (await client.post(f"{DESK}/preview", json={"markdown": md})).status == 401
    assert (await client.post(f"{DESK}/preview", json={"markdown": md}, headers=reporter)).status == 403
    assert (await client.post(f"{DESK}/preview", json={"markdown": 3}, headers=editor)).status == 422
    response = await client.post(f"{DESK}/preview", json={"markdown": md}, headers=editor)
    assert response.status == 200
    nodes = (await response.json())["nodes"]
    flat = json.dumps(nodes)
    assert '"t": "script"' not in flat and '"href": "javascript' not in flat and "alert(1)</script>" not in flat
    paragraph = next(n for n in nodes if isinstance(n, dict))
    assert paragraph["t"] == "p" and paragraph["a"]["data-updates"] == "abc def"
    assert {"t": "em", "a": {}, "c": ["there"]} in paragraph["c"]


def test_html_tree_keeps_structure_and_drops_the_unknown() -> None:
    tree = html_tree('<p>a<br>b <span>c</span> <img src="javascript:x"><a href="//evil">d</a></p><hr>')
    br, hr = {"t": "br", "a": {}, "c": []}, {"t": "hr", "a": {}, "c": []}
    link = {"t": "a", "a": {}, "c": ["d"]}  # "//evil" is not an http(s) URL: the href goes
    assert tree == [{"t": "p", "a": {}, "c": ["a", br, "b ", "c", " ", link]}, hr]


async def test_editor_deletes_a_session_that_no_update_uses(client: Any) -> None:
    await make_event(client)
    editor = await make_token(client, "Eda", role="editor")
    reporter = await make_token(client, "Drew")
    path = "/api/events/socitm-2011/sessions"
    assert (await client.put(f"{path}/keynote", json=SESSION, headers=editor)).status == 201
    assert (await client.put(f"{path}/spare", json=SESSION, headers=editor)).status == 201
    body = {"text": "Opening", "session": "keynote", "happened_at": "2011-10-11T09:05:00+01:00"}
    posted = await client.post("/api/events/socitm-2011/updates", headers=reporter, json=body)
    assert posted.status == 201
    assert (await client.delete(f"{path}/spare", headers=reporter)).status == 403
    assert (await client.delete(f"{path}/spare")).status == 401
    conflict = await client.delete(f"{path}/keynote", headers=editor)
    assert conflict.status == 409 and (await conflict.json())["field"] == "session"
    assert (await client.delete(f"{path}/spare", headers=editor)).status == 204
    assert (await client.delete(f"{path}/spare", headers=editor)).status == 404
    listing = await (await client.get(path)).json()
    assert [s["id"] for s in listing["sessions"]] == ["keynote"]
    # the deletion is broadcast on the feed as a session message
    feed = await client.get("/api/events/socitm-2011/stream?after=0-0", timeout=5)
    text = ""
    async for chunk in feed.content.iter_any():
        text += chunk.decode()
        if '"deleted": true' in text or '"deleted":true' in text:
            break
    feed.close()
    deleted = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ") and "deleted" in line]
    assert [(m["type"], m["data"]["id"], m["data"]["deleted"]) for m in deleted] == [("session", "spare", True)]
    # once its update is deleted, the session may go
    uid = (await posted.json())["id"]
    assert (await client.delete(f"/api/events/socitm-2011/updates/{uid}", headers=editor)).status == 204
    assert (await client.delete(f"{path}/keynote", headers=editor)).status == 204
