"""Hostile input is a 4xx problem naming the field, at once: never a 500, a hang or a half-written update."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import ADMIN, make_event, make_token

URL = "/api/events/socitm-2011/updates"


@pytest.mark.parametrize("moment", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"])
async def test_happened_at_at_the_edges_of_time_is_422(client: Any, moment: str) -> None:
    await make_event(client)
    drew = await make_token(client, "Drew")
    response = await client.post(URL, json={"text": "x", "happened_at": moment}, headers=drew)
    assert response.status == 422, await response.text()
    assert (await response.json())["field"] == "happened_at"
    listing = await (await client.get(URL)).json()
    assert listing["updates"] == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/events"),
        ("POST", URL),
        ("POST", "/api/tokens"),
        ("PUT", "/api/events/socitm-2011/sessions/keynote"),
    ],
)
async def test_deeply_nested_json_is_400(client: Any, method: str, path: str) -> None:
    await make_event(client)
    body = "[" * 30000 + "]" * 30000
    response = await client.request(method, path, data=body, headers={**ADMIN, "Content-Type": "application/json"})
    assert response.status == 400, await response.text()
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize("after", ["١٢٣-0", "123-٠", "１２-3"])
async def test_non_ascii_digits_are_not_a_seq(client: Any, after: str) -> None:
    await make_event(client)
    for path in (f"{URL}?after={after}", f"/api/events/socitm-2011/stream?after={after}"):
        response = await client.get(path)
        assert response.status == 422, await response.text()
        assert (await response.json())["field"] == "after"
    response = await client.get("/api/events/socitm-2011/stream", headers={"Last-Event-ID": after})
    assert response.status == 422
