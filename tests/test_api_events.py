"""Events and sessions through the real API on a real store."""

from __future__ import annotations

from typing import Any

from conftest import ADMIN, EVENT, make_event, make_token

SESSION = {
    "title": "Opening keynote",
    "kind": "keynote",
    "starts_at": "2011-10-11T09:00:00+01:00",
    "ends_at": "2011-10-11T09:45:00+01:00",
    "room": "Hall 1",
    "speakers": [{"name": "Jos Creese", "role": "CIO", "organisation": "Hampshire County Council"}],
}


async def test_create_and_read_event(client: Any) -> None:
    created = await make_event(client)
    assert created["days"] == ["2011-10-10", "2011-10-11"]
    response = await client.get("/api/events/socitm-2011")
    assert response.status == 200
    assert (await response.json())["venue"] == "the NEC"
    listing = await (await client.get("/api/events")).json()
    assert [e["id"] for e in listing["events"]] == ["socitm-2011"]


async def test_event_errors_name_the_field(client: Any) -> None:
    await make_event(client)
    again = await client.post("/api/events", json=EVENT, headers=ADMIN)
    assert again.status == 409
    cases: list[tuple[dict[str, Any], str]] = [
        ({**EVENT, "id": "Bad Slug"}, "id"),
        ({**EVENT, "id": "x1", "timezone": "Mars/Olympus"}, "timezone"),
        ({**EVENT, "id": "x2", "ends_on": "2011-10-01"}, "ends_on"),
        ({**EVENT, "id": "x3", "colour": "red"}, "colour"),
        ({k: v for k, v in EVENT.items() if k != "title"} | {"id": "x4"}, "title"),
    ]
    for body, field in cases:
        response = await client.post("/api/events", json=body, headers=ADMIN)
        assert response.status == 422, (field, await response.text())
        assert response.content_type == "application/problem+json"
        problem = await response.json()
        assert problem["field"] == field
        assert field in problem["detail"]
        assert {"type", "title", "status", "detail"} <= problem.keys()


async def test_unknown_event_is_404(client: Any) -> None:
    response = await client.get("/api/events/nope")
    assert response.status == 404
    assert response.content_type == "application/problem+json"


async def test_sessions_put_list_and_scope(client: Any) -> None:
    await make_event(client)
    editor = await make_token(client, "Eda", "editor")
    reporter = await make_token(client, "Drew", "reporter")
    outsider = await make_token(client, "Olga", "editor", events=["other-event"])
    first = await client.put("/api/events/socitm-2011/sessions/keynote", json=SESSION, headers=editor)
    assert first.status == 201
    assert (await first.json())["day"] == "2011-10-11"
    again = await client.put("/api/events/socitm-2011/sessions/keynote", json={**SESSION, "room": "Hall 2"},
                             headers=editor)  # fmt: skip
    assert again.status == 200
    early = {**SESSION, "title": "Breakfast", "starts_at": "2011-10-11T08:00:00+01:00", "ends_at": None}
    assert (await client.put("/api/events/socitm-2011/sessions/breakfast", json=early, headers=editor)).status == 201
    listing = await (await client.get("/api/events/socitm-2011/sessions?day=2011-10-11")).json()
    assert [s["id"] for s in listing["sessions"]] == ["breakfast", "keynote"]
    assert listing["sessions"][1]["room"] == "Hall 2"
    other_day = await (await client.get("/api/events/socitm-2011/sessions?day=2011-10-10")).json()
    assert other_day["sessions"] == []
    assert (await client.put("/api/events/socitm-2011/sessions/x", json=SESSION, headers=reporter)).status == 403
    assert (await client.put("/api/events/socitm-2011/sessions/x", json=SESSION, headers=outsider)).status == 403
    bad_kind = await client.put("/api/events/socitm-2011/sessions/x", json={**SESSION, "kind": "party"},
                                headers=editor)  # fmt: skip
    assert bad_kind.status == 422
    assert (await bad_kind.json())["field"] == "kind"
    far = await client.put(
        "/api/events/socitm-2011/sessions/x",
        json={**SESSION, "starts_at": "2012-01-01T09:00:00Z", "ends_at": None},
        headers=editor,
    )
    assert far.status == 422
    assert (await far.json())["field"] == "starts_at"
    assert (await client.get("/api/events/socitm-2011/sessions?day=tuesday")).status == 422


async def test_editor_creates_only_its_events(client: Any) -> None:
    editor = await make_token(client, "Eda", "editor", events=["mine"])
    denied = await client.post("/api/events", json=EVENT, headers=editor)
    assert denied.status == 403
    allowed = await client.post("/api/events", json={**EVENT, "id": "mine"}, headers=editor)
    assert allowed.status == 201
    reporter = await make_token(client, "Drew", "reporter", events=["mine2"])
    assert (await client.post("/api/events", json={**EVENT, "id": "mine2"}, headers=reporter)).status == 403
