"""Service endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from conftest import ADMIN, make_event


async def test_health_ready_and_metrics(client: Any) -> None:
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["status"] == "ready"
    await make_event(client)
    body = {"text": "counted", "happened_at": "2011-10-11T10:00:00+01:00"}
    assert (await client.post("/api/events/socitm-2011/updates", json=body, headers=ADMIN)).status == 201
    async with client.ws_connect("/ws/events/socitm-2011"):
        response = await client.get("/metrics")
        assert response.status == 200 and response.content_type == "text/plain"
        lines = dict(line.rsplit(" ", 1) for line in (await response.text()).splitlines() if line[:1] != "#")
    assert lines["plenary_updates_posted_total"] == "1"
    assert lines["plenary_feed_readers"] == "1"
    assert lines["plenary_events_followed"] == "1"
    assert "plenary_pubsub_reconnects_total" in lines
