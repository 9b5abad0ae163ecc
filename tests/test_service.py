"""Service endpoints: liveness, readiness (and draining), Prometheus metrics, request ids in JSON logs."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from config.logs import _JsonFormatter

from conftest import ADMIN, ROOT, LiveServer, make_event

BODY = {"text": "counted", "happened_at": "2011-10-11T10:00:00+01:00"}


async def scrape(client: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics: (name, sorted labels) -> value."""
    response = await client.get("/metrics")
    assert response.status == 200 and response.content_type == "text/plain"
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(await response.text()) for s in family.samples}  # fmt: skip


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    wanted = tuple(sorted(labels.items()))
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


async def test_health_ready_and_metrics(client: Any) -> None:
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["status"] == "ready"
    await make_event(client)
    before = await scrape(client)  # the registry is per process: compare with what earlier tests left
    async with client.ws_connect("/ws/events/socitm-2011") as ws:
        assert (await client.post("/api/events/socitm-2011/updates", json=BODY, headers=ADMIN)).status == 201
        assert json.loads((await ws.receive(timeout=5)).data)["type"] == "update"
        after = await scrape(client)
    delta = {name: value(after, name) - value(before, name)
             for name in ("plenary_updates_posted_total", "plenary_deliveries_total",
                          "plenary_delivery_lag_seconds_count")}  # fmt: skip
    assert delta == {"plenary_updates_posted_total": 1, "plenary_deliveries_total": 1,
                     "plenary_delivery_lag_seconds_count": 1}  # fmt: skip
    assert value(after, "plenary_feed_readers", event="socitm-2011") == 1
    assert value(after, "plenary_events_followed") == 1
    assert ("plenary_pubsub_reconnects_total", ()) in after
    for name in ("plenary_slow_reader_cuts_total", "plenary_compile_seconds_count"):
        assert any(n == name for n, _ in after), name


async def test_refusals_are_counted_by_route(aiohttp_client: Any, make_app: Callable[..., Any]) -> None:
    client = await aiohttp_client(make_app(max_connections_per_address=1, rate_limits=True))
    await make_event(client)
    route = "/ws/events/{event}"
    before = value(await scrape(client), "plenary_rate_limit_refusals_total", route=route)
    async with client.ws_connect("/ws/events/socitm-2011"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/ws/events/socitm-2011")
        assert refused.value.status == 429
        after = value(await scrape(client), "plenary_rate_limit_refusals_total", route=route)
    assert after - before == 1


async def test_readyz_fails_while_a_process_drains(live_server_factory: Callable[..., LiveServer],
                                                   http: aiohttp.ClientSession) -> None:  # fmt: skip
    server = live_server_factory(PLENARY_DRAIN_SECONDS="3")
    assert (await http.get(f"{server.url}/readyz")).status == 200
    server.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 3
    while (ready := await http.get(f"{server.url}/readyz")).status == 200:  # the signal arrives when it does
        assert time.monotonic() < deadline, "still ready after SIGTERM"
        await asyncio.sleep(0.05)
    assert ready.status == 503 and (await ready.json())["status"] == "draining" and ready.headers["Retry-After"]
    assert (await http.get(f"{server.url}/healthz")).status == 200  # still serving while it drains
    assert await asyncio.to_thread(server.process.wait, 15) == 0


class _Lines(logging.Handler):
    """Formats each record as it is emitted, in the emitting task's context, as the stderr handler does."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(_JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


async def test_json_logs_carry_the_request_id(client: Any) -> None:
    await make_event(client)
    lines = _Lines()
    logger = logging.getLogger("server")
    level = logger.level
    logger.addHandler(lines)
    logger.setLevel(logging.DEBUG)
    try:
        async with client.ws_connect("/ws/events/socitm-2011", headers={"X-Request-Id": "req-42"}) as ws:
            await ws.close()
        logging.getLogger("server.test").info("outside any request")
    finally:
        logger.removeHandler(lines)
        logger.setLevel(level)
    opened = [line for line in lines.lines if line["message"].startswith("feed open")]
    assert opened and opened[0]["request_id"] == "req-42", lines.lines
    assert lines.lines[-1]["message"] == "outside any request" and "request_id" not in lines.lines[-1]


def test_the_grafana_dashboard_plots_only_metrics_we_serve() -> None:
    from server import metrics

    served = {m.name for m in metrics.REGISTRY.collect()} | {"plenary_feed_readers", "plenary_events_followed",
                                                            "plenary_pubsub_reconnects"}  # fmt: skip
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text(encoding="utf-8"))
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {word for expr in exprs for word in re.findall(r"plenary_[a-z_]+", expr)}
    base = {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in used}
    assert base <= served, base - served
    assert len(dashboard["panels"]) >= 9
