"""Updates: post, idempotency, validation, permissions, edit, delete, listing order."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from server.codec import seq_key

from conftest import ADMIN, make_event, make_token
from test_api_events import SESSION

URL = "/api/events/socitm-2011/updates"
AT = "2011-10-11T10:00:00+01:00"


async def setup(client: Any) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    await make_event(client)
    assert (await client.put("/api/events/socitm-2011/sessions/keynote", json=SESSION, headers=ADMIN)).status == 201
    drew = await make_token(client, "Drew")
    howard = await make_token(client, "Howard")
    editor = await make_token(client, "Eda", "editor")
    return drew, howard, editor


async def post(client: Any, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(URL, json={"text": "x", "happened_at": AT, **body}, headers=headers)
    assert response.status == 201, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def test_post_and_read_back(client: Any) -> None:
    drew, _, _ = await setup(client)
    body = {
        "text": "Jos Creese opens: *public services are digital by default*",
        "session": "keynote",
        "happened_at": "2011-10-11T09:05:00+01:00",
        "key": True,
        "quote": {"text": "Digital is not an IT project.", "speaker": "Jos Creese"},
        "image": {"url": "https://example.org/keynote.jpg", "caption": "A full hall", "alt": "Audience in Hall 1"},
        "tags": ["keynote", "digital"],
    }
    response = await client.post(URL, json=body, headers=drew)
    assert response.status == 201
    update = await response.json()
    assert response.headers["Location"] == f"{URL}/{update['id']}"
    assert update["author"] == {"name": "Drew"}
    assert update["happened_at"] == "2011-10-11T08:05:00Z"
    assert update["version"] == 1 and update["pinned"] is False and update["seq"]
    for field in ("text", "session", "key", "quote", "image", "tags"):
        assert update[field] == body[field]
    fetched = await (await client.get(f"{URL}/{update['id']}")).json()
    assert fetched == update


async def test_happened_at_defaults_to_now_and_must_fall_within_event_days(client: Any) -> None:
    today = dt.datetime.now(dt.UTC).date()
    await make_event(client, starts_on=str(today - dt.timedelta(days=1)), ends_on=str(today + dt.timedelta(days=1)),
                     id="today-conf")  # fmt: skip
    drew = await make_token(client, "Drew", events=["today-conf"])
    before = dt.datetime.now(dt.UTC)
    now = await client.post("/api/events/today-conf/updates", json={"text": "now"}, headers=drew)
    assert now.status == 201, await now.text()
    happened = dt.datetime.fromisoformat((await now.json())["happened_at"])
    assert before - dt.timedelta(seconds=1) <= happened <= dt.datetime.now(dt.UTC)
    await make_event(client)
    drew2 = await make_token(client, "Drew2")
    # one day either side of the event (in Europe/London) is accepted; two days is not
    edge = await client.post(URL, json={"text": "eve", "happened_at": "2011-10-09T23:30:00+01:00"}, headers=drew2)
    assert edge.status == 201
    too_early = await client.post(URL, json={"text": "t", "happened_at": "2011-10-08T23:30:00+01:00"}, headers=drew2)
    assert too_early.status == 422
    assert (await too_early.json())["field"] == "happened_at"
    naive = await client.post(URL, json={"text": "t", "happened_at": "2011-10-10T09:00:00"}, headers=drew2)
    assert naive.status == 422
    assert (await naive.json())["field"] == "happened_at"


async def test_bad_input_is_a_clear_4xx_and_writes_nothing(client: Any) -> None:
    drew, _, _ = await setup(client)
    cases: list[tuple[Any, int, str | None]] = [
        ({"text": "x" * 10_001}, 422, "text"),
        ({"text": "x", "colour": "red"}, 422, "colour"),
        ({"text": "x", "image": {"url": "javascript:alert(1)"}}, 422, "image.url"),
        ({"text": "x", "image": {"url": "ftp://example.org/a.jpg"}}, 422, "image.url"),
        ({"text": "x", "session": "nope"}, 422, "session"),
        ({"text": "x", "key": "yes please"}, 422, "key"),
        ({"text": ""}, 422, "text"),
        ({"text": "x", "quote": {"speaker": "Jos"}}, 422, "quote.text"),
        ({"text": "x", "pinned": True}, 403, "pinned"),
        (["not", "an", "object"], 400, None),
    ]
    for body, status, field in cases:
        if isinstance(body, dict) and field != "happened_at":
            body = {"happened_at": AT, **body}
        response = await client.post(URL, json=body, headers=drew)
        assert response.status == status, (body, await response.text())
        assert response.content_type == "application/problem+json"
        if field:
            assert (await response.json()).get("field") == field, body
    raw = await client.post(URL, data=b"{not json", headers={**drew, "Content-Type": "application/json"})
    assert raw.status == 400
    form = await client.post(URL, data=b"text=x", headers={**drew, "Content-Type": "text/plain"})
    assert form.status == 415
    huge = await client.post(URL, json={"text": "x" * 70_000}, headers=drew)
    assert huge.status == 413
    assert huge.content_type == "application/problem+json"
    listing = await (await client.get(URL)).json()
    assert listing["updates"] == []


async def test_idempotent_retry_returns_first_answer_and_adds_nothing(client: Any) -> None:
    drew, howard, _ = await setup(client)
    key = {"Idempotency-Key": "b7a4c1e2-retry-1"}
    first = await client.post(URL, json={"text": "hello", "happened_at": AT}, headers={**drew, **key})
    again = await client.post(URL, json={"text": "hello", "happened_at": AT}, headers={**drew, **key})
    assert first.status == again.status == 201
    assert await first.json() == await again.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    other_body = await client.post(URL, json={"text": "changed", "happened_at": AT}, headers={**drew, **key})
    assert other_body.status == 422
    assert (await other_body.json())["field"] == "Idempotency-Key"
    # the same key from another reporter is another request
    theirs = await client.post(URL, json={"text": "hello", "happened_at": AT}, headers={**howard, **key})
    assert theirs.status == 201 and (await theirs.json())["id"] != (await first.json())["id"]
    listing = await (await client.get(URL)).json()
    assert len(listing["updates"]) == 2


async def test_concurrent_retries_create_exactly_one(client: Any) -> None:
    drew, _, _ = await setup(client)
    headers = {**drew, "Idempotency-Key": "concurrent-42"}
    body = {"text": "once", "happened_at": AT}
    responses = await asyncio.gather(*[client.post(URL, json=body, headers=headers) for _ in range(20)])
    assert {r.status for r in responses} == {201}
    ids = {(await r.json())["id"] for r in responses}
    assert len(ids) == 1
    listing = await (await client.get(URL)).json()
    assert [u["text"] for u in listing["updates"]] == ["once"]


async def test_seq_increases_in_posting_order_and_listing_pages(client: Any) -> None:
    drew, howard, _ = await setup(client)
    posted = []
    for i in range(12):
        posted.append(await post(client, drew if i % 2 else howard, text=f"u{i}", session="keynote"))
    seqs = [u["seq"] for u in posted]
    as_pairs = [tuple(int(p) for p in s.split("-")) for s in seqs]
    assert as_pairs == sorted(as_pairs) and len(set(seqs)) == 12
    latest = await (await client.get(URL + "?limit=5")).json()
    assert [u["text"] for u in latest["updates"]] == ["u7", "u8", "u9", "u10", "u11"]
    assert latest["prev"] == seqs[7] and latest["next"] is None
    older = await (await client.get(URL + f"?limit=5&before={latest['prev']}")).json()
    assert [u["text"] for u in older["updates"]] == ["u2", "u3", "u4", "u5", "u6"]
    after = await (await client.get(URL + f"?after={seqs[3]}&limit=4")).json()
    assert [u["text"] for u in after["updates"]] == ["u4", "u5", "u6", "u7"]
    assert after["next"] == seqs[7]
    by_session = await (await client.get(URL + "?session=keynote&limit=100")).json()
    assert len(by_session["updates"]) == 12
    by_day = await (await client.get(URL + "?day=2011-10-11&limit=100")).json()
    assert len(by_day["updates"]) == 12
    assert (await (await client.get(URL + "?day=2011-10-10")).json())["updates"] == []
    assert (await client.get(URL + "?limit=0")).status == 422
    assert (await client.get(URL + "?after=yesterday")).status == 422


async def test_day_index_follows_the_event_time_zone(client: Any) -> None:
    drew, _, _ = await setup(client)
    late = await post(client, drew, text="late", happened_at="2011-10-10T23:30:00+00:00")  # 00:30 on 11th in London
    early = await post(client, drew, text="early", happened_at="2011-10-10T22:30:00+00:00")  # 23:30 on 10th
    day11 = await (await client.get(URL + "?day=2011-10-11")).json()
    day10 = await (await client.get(URL + "?day=2011-10-10")).json()
    assert [u["id"] for u in day11["updates"]] == [late["id"]]
    assert [u["id"] for u in day10["updates"]] == [early["id"]]


async def test_edit_bumps_version_and_moves_indexes(client: Any) -> None:
    drew, howard, editor = await setup(client)
    update = await post(client, drew, text="Jos Creese said digital", happened_at="2011-10-10T10:00:00+01:00")
    url = f"{URL}/{update['id']}"
    edited = await client.patch(url, json={"text": "Jos Creese said: digital by default", "session": "keynote",
                                           "happened_at": "2011-10-11T09:10:00+01:00"}, headers=drew)  # fmt: skip
    assert edited.status == 200, await edited.text()
    body = await edited.json()
    assert body["version"] == 2 and body["seq"] == update["seq"] and body["session"] == "keynote"
    assert (await (await client.get(url)).json())["text"] == "Jos Creese said: digital by default"
    day10 = await (await client.get(URL + "?day=2011-10-10")).json()
    day11 = await (await client.get(URL + "?day=2011-10-11")).json()
    assert day10["updates"] == [] and [u["id"] for u in day11["updates"]] == [update["id"]]
    stale = await client.patch(url, json={"text": "stale", "version": 1}, headers=drew)
    assert stale.status == 409
    assert (await client.patch(url, json={"text": "not mine"}, headers=howard)).status == 403
    by_editor = await client.patch(url, json={"key": True, "version": 2}, headers=editor)
    assert by_editor.status == 200 and (await by_editor.json())["version"] == 3
    cleared = await client.patch(url, json={"session": None}, headers=drew)
    assert (await cleared.json())["session"] is None
    assert (await client.patch(url, json={"text": None}, headers=drew)).status == 422
    assert (await client.patch(url, json={"pinned": True}, headers=drew)).status == 403
    assert (await client.patch(f"{URL}/nope", json={"text": "x"}, headers=drew)).status == 404


async def test_delete_hides_and_only_author_or_editor(client: Any) -> None:
    drew, howard, editor = await setup(client)
    a = await post(client, drew, text="a")
    b = await post(client, drew, text="b")
    assert (await client.delete(f"{URL}/{a['id']}", headers=howard)).status == 403
    assert (await client.delete(f"{URL}/{a['id']}", headers=drew)).status == 204
    assert (await client.get(f"{URL}/{a['id']}")).status == 404
    assert (await client.delete(f"{URL}/{a['id']}", headers=drew)).status == 404
    assert (await client.delete(f"{URL}/{b['id']}", headers=editor)).status == 204
    assert (await (await client.get(URL)).json())["updates"] == []


async def test_reporter_cannot_touch_another_event(client: Any) -> None:
    await setup(client)
    await make_event(client, id="other")
    drew = await make_token(client, "Drew-other", events=["other"])
    response = await client.post(URL, json={"text": "wrong event", "happened_at": AT}, headers=drew)
    assert response.status == 403
    assert "socitm-2011" in (await response.json())["detail"]
    assert (await client.post(URL, json={"text": "anon"})).status == 401


async def test_pinning_one_unpins_the_previous(client: Any) -> None:
    drew, _, editor = await setup(client)
    a = await post(client, editor, text="pin me", pinned=True)
    b = await post(client, drew, text="then me")
    pinned_b = await client.patch(f"{URL}/{b['id']}", json={"pinned": True}, headers=editor)
    assert (await pinned_b.json())["pinned"] is True
    assert (await (await client.get(f"{URL}/{a['id']}")).json())["pinned"] is False
    event_url = URL.removesuffix("/updates")
    assert (await (await client.get(event_url)).json())["pinned"] == b["id"]  # the event names its pin
    await client.patch(f"{URL}/{b['id']}", json={"pinned": False}, headers=editor)
    assert (await (await client.get(event_url)).json())["pinned"] is None


async def test_log_keeps_originals_of_edits_and_deletes(client: Any, settings: Any) -> None:
    from server.store import Store

    drew, _, _ = await setup(client)
    u = await post(client, drew, text="first words")
    await client.patch(f"{URL}/{u['id']}", json={"text": "second words"}, headers=drew)
    await client.delete(f"{URL}/{u['id']}", headers=drew)
    store = await Store.open(settings.redis_url, prefix=settings.redis_prefix)
    try:
        entries = [e async for e in store.iter_log("socitm-2011")]
    finally:
        await store.aclose()
    kinds = [(e.type, e.data.get("text")) for e in entries if e.type != "session"]
    assert kinds == [("update", "first words"), ("edit", "second words"), ("delete", None)]


async def test_day_and_session_filters_together_page_correctly(client: Any) -> None:
    _drew, _howard, editor = await setup(client)
    second = {**SESSION, "title": "Panel", "starts_at": "2011-10-11T11:00:00+01:00", "ends_at": None}
    assert (await client.put("/api/events/socitm-2011/sessions/panel", json=second, headers=editor)).status == 201
    keynote = [await post(client, editor, text=f"k{i}", session="keynote") for i in range(5)]
    panel = [await post(client, editor, text=f"p{i}", session="panel") for i in range(2)]
    both = URL + "?day=2011-10-11&session="
    first = await (await client.get(both + f"panel&after={keynote[0]['seq']}&limit=3")).json()
    assert [u["text"] for u in first["updates"]] == ["p0", "p1"] and first["next"] is None
    latest = await (await client.get(both + "keynote&limit=3")).json()
    assert [u["text"] for u in latest["updates"]] == ["k2", "k3", "k4"] and latest["prev"] == keynote[2]["seq"]
    older = await (await client.get(both + f"keynote&limit=3&before={latest['prev']}")).json()
    assert [u["text"] for u in older["updates"]] == ["k0", "k1"] and older["prev"] is None
    assert seq_key(panel[1]["seq"]) > seq_key(panel[0]["seq"])


async def test_delete_from_a_stale_read_is_refused_so_no_index_is_left_behind(client: Any, settings: Any) -> None:
    import datetime as dt

    import pytest

    from server.errors import Conflict
    from server.store import Store

    drew, _howard, editor = await setup(client)
    second = {**SESSION, "title": "Panel", "starts_at": "2011-10-11T11:00:00+01:00", "ends_at": None}
    assert (await client.put("/api/events/socitm-2011/sessions/panel", json=second, headers=editor)).status == 201
    update = await post(client, drew, text="moving", session="keynote")
    store = await Store.open(settings.redis_url, prefix=settings.redis_prefix)
    try:
        stale = await store.get_update("socitm-2011", update["id"])  # the reporter's read...
        assert stale is not None
        moved = await client.patch(f"{URL}/{update['id']}", json={"session": "panel"}, headers=editor)
        assert moved.status == 200  # ...then an editor moves it to another session
        with pytest.raises(Conflict):
            await store.delete_update("socitm-2011", stale, day=dt.date(2011, 10, 11))
    finally:
        await store.aclose()
    assert (await client.delete(f"{URL}/{update['id']}", headers=drew)).status == 204
    assert (await (await client.get(URL + "?session=panel")).json())["updates"] == []
    assert (await client.delete("/api/events/socitm-2011/sessions/panel", headers=editor)).status == 204


async def test_reporter_named_admin_is_refused(client: Any) -> None:
    response = await client.post("/api/tokens", json={"name": "Admin", "role": "reporter"}, headers=ADMIN)
    assert response.status == 422 and (await response.json())["field"] == "name"


async def test_listing_says_where_to_follow_the_feed_from(client: Any) -> None:
    await make_event(client, id="quiet")
    assert (await (await client.get("/api/events/quiet/updates")).json())["position"] == "0-0"  # an empty log
    drew, _howard, _editor = await setup(client)
    update = await post(client, drew, text="first")
    edited = await client.patch(f"{URL}/{update['id']}", json={"text": "first, edited"}, headers=drew)
    assert edited.status == 200
    listing = await (await client.get(URL)).json()
    assert listing["position"] != update["seq"]  # the edit is newer than the update's creation
    async with client.ws_connect(f"/ws/events/socitm-2011?after={update['seq']}") as ws:
        message = await ws.receive_json(timeout=5)
    assert message["type"] == "edit" and message["seq"] == listing["position"]  # the log's last entry


async def test_concurrent_pins_leave_exactly_one_pinned(client: Any) -> None:
    _drew, _howard, editor = await setup(client)
    updates = [await post(client, editor, text=f"candidate {i}") for i in range(6)]
    pins = [client.patch(f"{URL}/{u['id']}", json={"pinned": True}, headers=editor) for u in updates]
    assert {r.status for r in await asyncio.gather(*pins)} == {200}
    listing = await (await client.get(URL)).json()
    assert sum(u["pinned"] for u in listing["updates"]) == 1


async def test_limit_takes_ascii_digits_only(client: Any) -> None:
    await setup(client)
    assert (await client.get(URL + "?limit=5")).status == 200
    for bad in ("٥", "%20%205", "+5", "0", "201", "5.0", "１０"):  # int() took the Arabic-Indic and full-width digits
        response = await client.get(URL + f"?limit={bad}")
        assert response.status == 422, bad
        assert (await response.json())["field"] == "limit"
