"""Process counters in the Prometheus text format."""

from __future__ import annotations

from collections import Counter

from aiohttp import web

COUNTERS: web.AppKey[Counter[str]] = web.AppKey("counters", Counter)

_HELP = {
    "plenary_updates_posted_total": "Updates created through this process.",
    "plenary_http_errors_total": "Problem answers sent by this process (4xx and 5xx).",
}


def count(app: web.Application, name: str, amount: int = 1) -> None:
    """Add to a counter of this process."""
    app[COUNTERS][name] += amount


def render(app: web.Application) -> str:
    """Every counter and gauge of this process, in the Prometheus text format."""
    lines = []
    for name, value in sorted(app[COUNTERS].items()):
        lines.append(f"# HELP {name} {_HELP.get(name, name)}")
        lines.append(f"# TYPE {name} {'counter' if name.endswith('_total') else 'gauge'}")
        lines.append(f"{name} {value}")
    return "\n".join(lines) + "\n"
