"""The arq job queue: the compile job, the day-end cron, a msgpack serializer, the Store on start-up."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import msgpack
from arq import Retry, create_pool, cron
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker

from config.settings import Settings
from server import codec, metrics
from server.errors import Conflict, StoreUnavailable
from server.models import Event, Session
from server.reflections_store import Reflections
from server.store import Store
from workers.post import Draft
from workers.reflections import LogEntry, compile_day

logger = logging.getLogger(__name__)

MAX_TRIES = 5
COMPILE = "compile_reflections"


def queue_name(settings: Settings) -> str:
    """The arq queue of this deployment (the Redis prefix keeps deployments and tests apart)."""
    return f"{settings.redis_prefix}:arq:queue"


def redis_settings(settings: Settings, *, retries: int = 5) -> RedisSettings:
    redis = RedisSettings.from_dsn(settings.redis_url)
    redis.conn_retries = retries
    return redis


def _pack(data: dict[str, Any]) -> bytes:
    return msgpack.packb(data, use_bin_type=True)  # type: ignore[no-any-return]


def _unpack(raw: bytes) -> dict[str, Any]:
    return msgpack.unpackb(raw, raw=False)  # type: ignore[no-any-return]


def job_id(settings: Settings, event: str, day: dt.date, nonce: str) -> str:
    return f"{settings.redis_prefix}:compile:{event}:{day}:{nonce}"


async def open_queue(settings: Settings) -> ArqRedis:
    """A connection for enqueueing jobs (the API uses it)."""
    return await create_pool(redis_settings(settings, retries=0), job_serializer=_pack, job_deserializer=_unpack,
                             default_queue_name=queue_name(settings))  # fmt: skip


async def enqueue_compile(queue: ArqRedis, settings: Settings, event: str, day: dt.date, job: str,
                          *, replace: bool) -> None:  # fmt: skip
    """Queue one compile of ``event``'s ``day``; arq runs it once, on whichever worker takes it first."""
    await queue.enqueue_job(COMPILE, event, day.isoformat(), replace, job, _job_id=job,
                            _queue_name=queue_name(settings))  # fmt: skip


def draft_fields(draft: Draft) -> dict[str, str]:
    """A compiled draft as the fields the reflections store keeps."""
    import json

    now = codec.utc_text(dt.datetime.now(dt.UTC))
    return {
        "title": draft.title,
        "markdown": draft.markdown,
        "html": draft.html,
        "jsonld": json.dumps(draft.jsonld),
        "sources": json.dumps(draft.sources),
        "authors": json.dumps(draft.authors),
        "merged": json.dumps(draft.merged),
        "dropped": json.dumps(draft.dropped),
        "compiled_at": now,
    }


async def compile_now(store: Store, settings: Settings, event_id: str, day: dt.date) -> Draft:
    """Compile ``day`` of ``event_id`` from the event's durable log (never from pub/sub)."""
    event = await store.get_event(event_id)
    sessions = await store.list_sessions(event_id)
    entries = [LogEntry(e.seq, e.type, e.data) async for e in store.iter_log(event_id)]
    return compile_day(event, sessions, entries, day, word_budget=settings.session_word_budget)


def _reflections(ctx: dict[str, Any]) -> Reflections:
    """This worker's Reflections store, made on first use (its scripts are registered once)."""
    if "reflections" not in ctx:
        ctx["reflections"] = Reflections(ctx["store"])
    reflections: Reflections = ctx["reflections"]
    return reflections


async def compile_reflections(ctx: dict[str, Any], event_id: str, day_text: str, replace: bool, job: str) -> str:
    """The compile job: compile the day and save the draft unless an editor edited it meanwhile."""
    store: Store = ctx["store"]
    settings: Settings = ctx["settings"]
    reflections = _reflections(ctx)
    day = dt.date.fromisoformat(day_text)
    try:
        with metrics.COMPILE_SECONDS.time():  # served by /metrics of a server running the worker in-process
            draft = await compile_now(store, settings, event_id, day)
        saved = await reflections.save_compiled(event_id, day, draft_fields(draft), replace=replace)
    except StoreUnavailable as exc:
        if ctx.get("job_try", 1) < MAX_TRIES:
            raise Retry(defer=2 * ctx.get("job_try", 1)) from exc
        await reflections.abandon(event_id, day, job)
        raise
    except Exception:
        await reflections.abandon(event_id, day, job)
        raise
    outcome = "compiled" if saved else "kept the editor's version"
    logger.info("reflections %s %s: %s (%d words)", event_id, day, outcome, len(draft.markdown.split()))
    return outcome


def due_at(event: Event, sessions: list[Session], day: dt.date, settings: Settings) -> dt.datetime:
    """When ``day``'s reflections compile by themselves: at compile_at local time, or a delay after the
    day's last session ends (18:00 local when it has no sessions)."""
    zone = event.zone
    if settings.compile_at:
        hour, minute = (int(p) for p in settings.compile_at.split(":"))
        return dt.datetime.combine(day, dt.time(hour, minute), zone)
    ends = [s.ends_at or s.starts_at + dt.timedelta(hours=1) for s in sessions if s.day == day]
    last = max(ends) if ends else dt.datetime.combine(day, dt.time(18, 0), zone)
    return last + dt.timedelta(minutes=settings.compile_delay_minutes)


async def auto_compile(ctx: dict[str, Any]) -> int:
    """The day-end cron: queue each event day's first compile once it is due; returns how many it queued."""
    store: Store = ctx["store"]
    settings: Settings = ctx["settings"]
    queue: ArqRedis = ctx["redis"]
    now = dt.datetime.now(dt.UTC)
    queued = 0
    for event in await store.list_events():
        if event.ends_on < (now - dt.timedelta(days=3)).date():
            continue
        sessions = await store.list_sessions(event.id)
        for day in event.days:
            if now < due_at(event, sessions, day, settings):
                continue
            # claim the day once for every worker: SET NX; kept two weeks
            claim = f"{settings.redis_prefix}:auto:{event.id}:{day}"
            if not await queue.set(claim, "1", nx=True, ex=14 * 86400):
                continue
            job = job_id(settings, event.id, day, "auto")
            try:
                await _reflections(ctx).request_compile(event.id, day, job, replace=False)
            except Conflict:  # an editor got there first: leave their draft alone
                continue
            except Exception:  # e.g. the store went away: release the claim, the next run tries again
                await queue.delete(claim)
                raise
            await enqueue_compile(queue, settings, event.id, day, job, replace=False)
            queued += 1
    return queued


async def _startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    ctx["store"] = await Store.from_settings(settings)
    await ctx["store"].check_durability()


async def _shutdown(ctx: dict[str, Any]) -> None:
    if "store" in ctx:
        await ctx["store"].aclose()


def make_worker(settings: Settings, *, handle_signals: bool = True) -> Worker:
    """An arq worker for this deployment's queue; several may run at once, each job runs once."""
    return Worker(
        functions=[compile_reflections],
        cron_jobs=[cron(auto_compile, minute=set(range(0, 60, 5)), run_at_startup=True, unique=True)],
        queue_name=queue_name(settings),
        redis_settings=redis_settings(settings),
        on_startup=_startup,
        on_shutdown=_shutdown,
        ctx={"settings": settings},
        handle_signals=handle_signals,
        max_tries=MAX_TRIES,
        job_timeout=120,
        keep_result=3600,
        poll_delay=0.2,
        job_serializer=_pack,
        job_deserializer=_unpack,
        health_check_key=f"{settings.redis_prefix}:arq:health",
    )


__all__ = ["compile_now", "enqueue_compile", "make_worker", "open_queue"]
