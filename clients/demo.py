"""plenary demo: create the sample event on a running server and replay its day through the real API.

Idle stretches of the script (the night between the days, a long session) are shortened to ``MAX_GAP`` of
script time, so the whole demo takes under three minutes at ``--speed 60``. Each post carries an
Idempotency-Key made from the script (event, reference and body), so running the demo again, after an
interruption or not, adds nothing the server already acknowledged (within its ``idempotency_hours``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from clients import demo_day, demo_day2
from clients.api_client import ApiClient, ApiError
from clients.demo_day import Delete, Edit, Post, Step

MAX_GAP = dt.timedelta(minutes=3)


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


def idempotency_key(step: Post) -> str:
    """The same key for the same post of the script on every run; a changed post gets a new one."""
    body = hashlib.sha256(json.dumps(step.body, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"demo-{step.event}-{step.ref}-{body}"


def pauses(script: Sequence[Step], speed: float) -> list[float]:
    """Real seconds to wait before each step: the script's gap, at most MAX_GAP, divided by ``speed``."""
    if speed <= 0:
        return [0.0] * len(script)
    gaps = [dt.timedelta(0), *(b.at - a.at for a, b in itertools.pairwise(script))]
    return [max(0.0, min(gap, MAX_GAP).total_seconds() / speed) for gap in gaps]


async def _set_up(admin: ApiClient, demo: Script) -> dict[str, str]:
    """Events, agenda and a fresh token for each demo reporter (an older token of the same name is revoked)."""
    for event in (demo.event, demo.other_event):
        try:
            await admin.create_event(event)
        except ApiError as exc:
            if exc.status != 409:  # 409: there from an earlier run
                raise
    for event_id, session_id, body in demo.sessions:
        await admin.put_session(event_id, session_id, dict(body))
    tokens = {}
    events = [str(demo.event["id"]), str(demo.other_event["id"])]
    for name in demo.reporters:
        try:
            await admin.revoke_token(name)
        except ApiError as exc:
            if exc.status != 404:
                raise
        tokens[name] = (await admin.create_token(name, "reporter", events)).token
    return tokens


async def _change(api: ApiClient, step: Edit | Delete, update: str) -> None:
    if isinstance(step, Edit):
        await api.edit_update(step.event, update, dict(step.body))
    else:
        await api.delete_update(step.event, update)


async def _play(api: ApiClient, admin: ApiClient, step: Step, ids: dict[str, str], say: Callable[[str], None]) -> None:
    """One step as its reporter; an edit or delete of an earlier run's post (its token since revoked) as admin."""
    match step:
        case Post():
            created = await api.post_update(step.event, dict(step.body), idempotency_key=idempotency_key(step))
            ids[step.ref] = created.id
            say(f"posted {step.ref}")
        case Edit() | Delete():
            verb = "edited" if isinstance(step, Edit) else "deleted"
            try:
                try:
                    await _change(api, step, ids[step.ref])
                except ApiError as exc:
                    if exc.status != 403:
                        raise
                    await _change(admin, step, ids[step.ref])  # posted by the reporter's token of an earlier run
            except ApiError as exc:
                if exc.status != 404:
                    raise
                verb = "already deleted:"  # by an earlier run of the demo
            say(f"{verb} {step.ref}")


async def replay(
    base_url: str,
    admin_token: str,
    *,
    speed: float = 0.0,
    day: int = 1,
    steps: Sequence[Step] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, str]:
    """Create the demo events, agenda and reporters, then post, edit and delete as the script says.

    ``speed`` is how many script seconds pass per real second (0: as fast as possible). Returns the server's
    update id for each script reference. ``day`` picks the demo day (``SCRIPTS``).

    Raises:
        DemoError: the server refused a step (its problem, and which step).
    """
    base = base_url.rstrip("/")
    say = progress or (lambda _line: None)
    ids: dict[str, str] = {}
    demo = SCRIPTS[day]
    script = steps if steps is not None else demo.steps
    try:
        async with contextlib.AsyncExitStack() as stack:
            admin = await stack.enter_async_context(ApiClient(base, admin_token, user_agent="plenary-demo"))
            tokens = await _set_up(admin, demo)
            say(f"event {demo.event['id']}: {len(demo.sessions)} sessions, reporters {', '.join(demo.reporters)}")
            reporters = {name: await stack.enter_async_context(ApiClient(base, token, user_agent="plenary-demo"))
                         for name, token in tokens.items()}  # fmt: skip
            for step, pause in zip(script, pauses(script, speed), strict=True):
                await asyncio.sleep(pause)
                try:
                    await _play(reporters[step.reporter], admin, step, ids, say)
                except ApiError as exc:
                    raise DemoError(f"{type(step).__name__.lower()} {step.ref}: {exc.message}") from exc
    except ApiError as exc:
        raise DemoError(f"setting up the demo: {exc.message}") from exc
    return ids
