"""Prometheus metrics (prometheus-client): what an operator asks of a running process.

Counters and histograms live on this module's registry, one per process; every hook elsewhere is one line
(``metrics.POSTS.inc()``). Readers per event and pub/sub reconnects are read from the hub when scraped, so the
hub needs no hook for them.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from server.appkeys import HUB

REGISTRY = CollectorRegistry(auto_describe=True)

POSTS = Counter("plenary_updates_posted", "Updates created through this process.", registry=REGISTRY)
DELIVERIES = Counter("plenary_deliveries", "Feed frames written to readers' sockets by this process.",
                     registry=REGISTRY)  # fmt: skip
LAG = Histogram("plenary_delivery_lag_seconds", "From an update's receipt (received_at) to the write of its "
                "frame to the last live reader of this process.", registry=REGISTRY,
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))  # fmt: skip
SLOW_CUTS = Counter("plenary_slow_reader_cuts", "Readers cut off for falling reader_buffer_bytes behind.",
                    registry=REGISTRY)  # fmt: skip
REFUSALS = Counter("plenary_rate_limit_refusals", "Requests answered 429 (a rate or connection limit).",
                   ["route"], registry=REGISTRY)  # fmt: skip
COMPILE_SECONDS = Histogram("plenary_compile_seconds", "Reflections compiles run by this process's worker.",
                            registry=REGISTRY, buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))  # fmt: skip


def refused(request: web.Request) -> None:
    """Count a 429 answered to ``request``, by route."""
    resource = request.match_info.route.resource
    REFUSALS.labels(resource.canonical if resource else "").inc()


def observe_lag(messages: Iterable[Any]) -> None:
    """Observe the post→socket lag of the updates in ``messages`` (hub Messages), written just now."""
    now = time.time()
    for message in messages:
        received = message.data.get("received_at") if message.type == "update" else None
        if received:
            LAG.observe(max(now - dt.datetime.fromisoformat(received).timestamp(), 0.0))


class _HubCollector(Collector):
    """Gauges and counters the hub keeps anyway, read at scrape time."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        if HUB not in self.app:
            return
        hub = self.app[HUB]
        readers = GaugeMetricFamily("plenary_feed_readers", "Feed connections (WebSocket and SSE) open on this "
                                    "process, per event.", labels=["event", "process"])  # fmt: skip
        for event, count in sorted(hub.counts().items()):
            readers.add_metric([event, hub.process_id], count)
        yield readers
        yield GaugeMetricFamily("plenary_events_followed", "Events whose channel this process is subscribed to.",
                                value=len(hub.subscribed()))  # fmt: skip
        yield CounterMetricFamily("plenary_pubsub_reconnects", "Times this process's pub/sub connection was "
                                  "re-established.", value=hub.reconnects)  # fmt: skip


def render(app: web.Application) -> bytes:
    """This process's metrics in the Prometheus text format."""
    hub_registry = CollectorRegistry(auto_describe=False)
    hub_registry.register(_HubCollector(app))
    return generate_latest(REGISTRY) + generate_latest(hub_registry)
