"""plenary demo: create the sample event on a running server and replay its day through the real API."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp

from clients.demo_day import EVENT, OTHER_EVENT, SESSIONS, STEPS, Delete, Edit, Post, Step

REPORTERS = ("Drew", "Howard")


class DemoError(RuntimeError):
    """The server refused a step of the demo."""


async def _call(http: aiohttp.ClientSession, method: str, url: str, token: str, body: Any = None,
                ok: tuple[int, ...] = (200, 201, 204), headers: dict[str, str] | None = None) -> Any:  # fmt: skip
    all_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
    async with http.request(method, url, json=body, headers=all_headers) as response:
        if response.status not in ok:
            raise DemoError(f"{method} {url} -> {response.status}: {await response.text()}")
        return await response.json() if response.status in (200, 201) else None


async def _reporter_tokens(http: aiohttp.ClientSession, base: str, admin: str) -> dict[str, str]:
    """A fresh token for each demo reporter (an older token of the same name is revoked)."""
    tokens = {}
    events = [str(EVENT["id"]), str(OTHER_EVENT["id"])]
    for name in REPORTERS:
        await _call(http, "DELETE", f"{base}/api/tokens/{name}", admin, ok=(204, 404))
        body = {"name": name, "role": "reporter", "events": events}
        tokens[name] = (await _call(http, "POST", f"{base}/api/tokens", admin, body))["token"]
    return tokens


async def replay(
    base_url: str,
    admin_token: str,
    *,
    speed: float = 0.0,
    steps: list[Step] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, str]:
    """Create the demo events, agenda and reporters, then post, edit and delete as the script says.

    ``speed`` is how many script seconds pass per real second (0: as fast as possible). Each post carries an
    Idempotency-Key, so a replay that is interrupted and run again never duplicates what was acknowledged.
    Returns the server's update id for each script reference.
    """
    base = base_url.rstrip("/")
    say = progress or (lambda _line: None)
    ids: dict[str, str] = {}
    run = uuid.uuid4().hex[:8]
    async with aiohttp.ClientSession() as http:
        for event in (EVENT, OTHER_EVENT):
            await _call(http, "POST", f"{base}/api/events", admin_token, event, ok=(201, 409))
        for event_id, session_id, body in SESSIONS:
            await _call(http, "PUT", f"{base}/api/events/{event_id}/sessions/{session_id}", admin_token, body)
        tokens = await _reporter_tokens(http, base, admin_token)
        say(f"event {EVENT['id']}: {len(SESSIONS)} sessions, reporters {', '.join(REPORTERS)}")
        script = steps if steps is not None else STEPS
        previous = script[0].at if script else None
        for step in script:
            if speed > 0 and previous is not None:
                await asyncio.sleep(max(0.0, (step.at - previous).total_seconds() / speed))
            previous = step.at
            token = tokens[step.reporter]
            updates = f"{base}/api/events/{step.event}/updates"
            match step:
                case Post():
                    headers = {"Idempotency-Key": f"demo-{run}-{step.ref}"}
                    created = await _call(http, "POST", updates, token, dict(step.body), headers=headers)
                    ids[step.ref] = created["id"]
                    say(f"posted {step.ref}")
                case Edit():
                    await _call(http, "PATCH", f"{updates}/{ids[step.ref]}", token, dict(step.body))
                    say(f"edited {step.ref}")
                case Delete():
                    await _call(http, "DELETE", f"{updates}/{ids[step.ref]}", token)
                    say(f"deleted {step.ref}")
    return ids
