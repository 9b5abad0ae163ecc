"""Process counters in the Prometheus text format."""

from __future__ import annotations

from collections import Counter

from aiohttp import web

from server.appkeys import HUB

COUNTERS: web.AppKey[Counter[str]] = web.AppKey("counters", Counter)

_HELP = {
    "plenary_updates_posted_total": "Updates created through this process.",
    "plenary_feed_readers": "Feed connections (WebSocket and SSE) open on this process.",
    "plenary_events_followed": "Events whose channel this process is subscribed to.",
    "plenary_pubsub_reconnects_total": "Times this process's pub/sub connection was re-established.",
}


def count(app: web.Application, name: str, amount: int = 1) -> None:
    """Add to a counter of this process."""
    app[COUNTERS][name] += amount


def render(app: web.Application) -> str:
    """Every counter and gauge of this process, in the Prometheus text format."""
    counters: Counter[str] = app[COUNTERS]
    values = dict(counters.items())
    if HUB in app:
        hub = app[HUB]
        values["plenary_feed_readers"] = sum(hub.counts().values())
        values["plenary_events_followed"] = len(hub.subscribed())
        values["plenary_pubsub_reconnects_total"] = hub.reconnects
    lines = []
    for name, value in sorted(values.items()):
        lines.append(f"# HELP {name} {_HELP.get(name, name)}")
        lines.append(f"# TYPE {name} {'counter' if name.endswith('_total') else 'gauge'}")
        lines.append(f"{name} {value}")
    return "\n".join(lines) + "\n"
