"""plenary demo: create the sample event on a running server and replay its day through the real API."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from clients import demo_day, demo_day2
from clients.demo_day import Delete, Edit, Post, Step


@dataclass(frozen=True)
class Script:
    """One demo day: its events, agenda, reporters and the posts, edits and deletes to replay."""

    event: Mapping[str, object]
    other_event: Mapping[str, object]
    sessions: Sequence[tuple[str, str, Mapping[str, object]]]
    steps: Sequence[Step]
    reporters: tuple[str, ...]


#: The demo days ``plenary demo --day N`` replays.
SCRIPTS = {
    1: Script(demo_day.EVENT, demo_day.OTHER_EVENT, demo_day.SESSIONS, demo_day.STEPS, demo_day.REPORTERS),
    2: Script(demo_day2.EVENT, demo_day2.OTHER_EVENT, demo_day2.SESSIONS, demo_day2.STEPS, demo_day2.REPORTERS),
}


class DemoError(RuntimeError):
    """The server refused a step of the demo."""


async def _call(http: aiohttp.ClientSession, method: str, url: str, token: str, body: Any = None,
                ok: tuple[int, ...] = (200, 201, 204), headers: dict[str, str] | None = None) -> Any:  # fmt: skip
    all_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
    async with http.request(method, url, json=body, headers=all_headers) as response:
        if response.status not in ok:
            raise DemoError(f"{method} {url} -> {response.status}: {await response.text()}")
        return await response.json() if response.status in (200, 201) else None


async def _reporter_tokens(http: aiohttp.ClientSession, base: str, admin: str, script: Script) -> dict[str, str]:
    """A fresh token for each demo reporter (an older token of the same name is revoked)."""
    tokens = {}
    events = [str(script.event["id"]), str(script.other_event["id"])]
    for name in script.reporters:
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
    day: int = 1,
) -> dict[str, str]:
    """Create the demo events, agenda and reporters, then post, edit and delete as the script says.

    ``speed`` is how many script seconds pass per real second (0: as fast as possible). Each post carries an
    Idempotency-Key, so a replay that is interrupted and run again never duplicates what was acknowledged.
    ``day`` picks the demo day (``SCRIPTS``). Returns the server's update id for each script reference.
    """
    demo = SCRIPTS[day]
    base = base_url.rstrip("/")
    say = progress or (lambda _line: None)
    ids: dict[str, str] = {}
    run = uuid.uuid4().hex[:8]
    async with aiohttp.ClientSession() as http:
        for event in (demo.event, demo.other_event):
            await _call(http, "POST", f"{base}/api/events", admin_token, event, ok=(201, 409))
        for event_id, session_id, body in demo.sessions:
            await _call(http, "PUT", f"{base}/api/events/{event_id}/sessions/{session_id}", admin_token, body)
        tokens = await _reporter_tokens(http, base, admin_token, demo)
        say(f"event {demo.event['id']}: {len(demo.sessions)} sessions, reporters {', '.join(demo.reporters)}")
        script = steps if steps is not None else demo.steps
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
