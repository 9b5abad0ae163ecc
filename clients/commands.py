"""What each plenary command does, given its parsed flags; heavy imports happen inside each command."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from clients.api_client import ApiClient, Event
    from config.settings import Settings

T = TypeVar("T")
Args = SimpleNamespace  # the parsed flags of one command, named as on the command line

CLIENT_CONFIG = Path("plenary") / "client.toml"
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class UsageError(Exception):
    """Bad flags or configuration: printed without a traceback, exit status 2."""


def _settings(args: Args) -> Settings:
    from config.settings import load_settings

    return load_settings(
        args.config,
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        redis_url=getattr(args, "redis_url", None),
        data_dir=getattr(args, "data_dir", None),
        processes=getattr(args, "processes", None),
    )


def cmd_serve(args: Args) -> int:
    from server.__main__ import serve

    return serve(_settings(args))


def cmd_config(args: Args) -> int:
    if args.defaults:
        from config.settings import defaults_toml

        print(defaults_toml(), end="")
        return 0
    print(json.dumps(_settings(args).masked(), indent=2))
    return 0


def cmd_worker(args: Args) -> int:
    from workers.__main__ import run_worker

    return run_worker(_settings(args))


# --- where the server is ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """The server to talk to and the token to use; either may be missing."""

    url: str | None
    token: str | None


def client_config_path(explicit: Path | None = None) -> Path:
    """``--client-config``, else ``$XDG_CONFIG_HOME/plenary/client.toml`` (``~/.config`` by default)."""
    if explicit is not None:
        return explicit
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / CLIENT_CONFIG


def resolve_target(args: Args) -> Target:
    """URL and token: the flag, else PLENARY_URL / PLENARY_TOKEN, else the client config file (url, token).

    Raises:
        UsageError: an explicit --client-config file is missing, or a config file is not valid TOML.
    """
    import tomllib

    explicit: Path | None = args.client_config
    path = client_config_path(explicit)
    file: dict[str, object] = {}
    if path.exists():
        try:
            file = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"cannot read the client config {path}: {exc}") from exc
    elif explicit is not None:
        raise UsageError(f"no client config file {path}")

    def pick(flag: str | None, env: str, key: str) -> str | None:
        value = flag or os.environ.get(env) or file.get(key)
        return str(value) if value else None

    return Target(pick(args.url, "PLENARY_URL", "url"), pick(args.token, "PLENARY_TOKEN", "token"))


def connect(args: Args, *, need_token: bool = True) -> ApiClient:
    from clients.api_client import ApiClient, RetryPolicy

    target = resolve_target(args)
    if not target.url:
        raise UsageError(f"no server URL: pass --url, set PLENARY_URL, or put url = \"...\" in "
                         f"{client_config_path(args.client_config)}")  # fmt: skip
    if need_token and not target.token:
        raise UsageError(f"no token: pass --token, set PLENARY_TOKEN, or put token = \"...\" in "
                         f"{client_config_path(args.client_config)}")  # fmt: skip
    retry_seconds: float | None = getattr(args, "retry_seconds", None)
    retry = RetryPolicy(max_seconds=retry_seconds) if retry_seconds is not None else None
    return ApiClient(target.url, target.token, retry=retry)


def run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    import asyncio

    return asyncio.run(work())


def print_json(data: object) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


async def _event(api: ApiClient, event: str, cache: dict[str, Event]) -> Event:
    if event not in cache:
        cache[event] = await api.get_event(event)
    return cache[event]


# --- updates ------------------------------------------------------------------------------------------


def _text(value: str | None) -> str | None:
    return sys.stdin.read() if value == "-" else value


def _quote(args: Args) -> dict[str, object] | None:
    if args.quote is None:
        if args.speaker is not None:
            raise UsageError("--speaker goes with --quote")
        return None
    quote: dict[str, object] = {"text": args.quote}
    if args.speaker is not None:
        quote["speaker"] = args.speaker
    return quote


def _image(args: Args) -> dict[str, object] | None:
    if args.image is None:
        if args.caption is not None or args.alt is not None:
            raise UsageError("--caption and --alt go with --image")
        return None
    image: dict[str, object] = {"url": args.image}
    if args.caption is not None:
        image["caption"] = args.caption
    if args.alt is not None:
        image["alt"] = args.alt
    return image


async def _happened_at(api: ApiClient, event: str, value: str, cache: dict[str, Event]) -> str:
    """--at: RFC 3339 as given; a local "HH:MM" (today) or "YYYY-MM-DD HH:MM" in the event's time zone."""

    from clients.agenda import AgendaError, parse_moment

    try:
        moment = dt.datetime.fromisoformat(value.strip())
        if moment.tzinfo is not None:
            return moment.isoformat()
    except ValueError:
        pass
    zone = (await _event(api, event, cache)).zone
    try:
        return parse_moment(value, zone, dt.datetime.now(zone).date(), what="--at").isoformat()
    except AgendaError as exc:
        raise UsageError(str(exc)) from exc


def cmd_post(args: Args) -> int:
    body: dict[str, object] = {"text": _text(args.text) or ""}
    if args.session:
        body["session"] = args.session
    if args.key:
        body["key"] = True
    if args.pin:
        body["pinned"] = True
    if (quote := _quote(args)) is not None:
        body["quote"] = quote
    if (image := _image(args)) is not None:
        body["image"] = image
    if args.tag:
        body["tags"] = args.tag

    async def work() -> int:
        async with connect(args) as api:
            if args.at:
                body["happened_at"] = await _happened_at(api, args.event, args.at, {})
            update = await api.post_update(args.event, body, idempotency_key=args.idempotency_key)
        print(update.id, update.seq)
        return EXIT_OK

    return run(work)


def cmd_edit(args: Args) -> int:
    changes: dict[str, object] = {}
    if args.text is not None:
        changes["text"] = _text(args.text)
    if args.key is not None:
        changes["key"] = args.key
    if args.pin is not None:
        changes["pinned"] = args.pin
    if args.session is not None:
        changes["session"] = args.session
    if (quote := _quote(args)) is not None:
        changes["quote"] = quote
    if (image := _image(args)) is not None:
        changes["image"] = image
    if args.tag:
        changes["tags"] = args.tag
    if args.version is not None:
        changes["version"] = args.version
    for name in args.clear or []:
        if name in changes:
            raise UsageError(f"--clear {name} and a new {name} at once")
        changes[name] = [] if name == "tags" else None

    async def work() -> int:
        async with connect(args) as api:
            if args.at:
                changes["happened_at"] = await _happened_at(api, args.event, args.at, {})
            if not changes:
                raise UsageError("nothing to change: give --text, --key/--no-key, --session, --quote, ...")
            update = await api.edit_update(args.event, args.id, changes)
        print(update.id, f"version {update.version}")
        return EXIT_OK

    return run(work)


def cmd_delete(args: Args) -> int:
    async def work() -> int:
        async with connect(args) as api:
            await api.delete_update(args.event, args.id)
        print(f"deleted {args.id}")
        return EXIT_OK

    return run(work)


# --- tokens -------------------------------------------------------------------------------------------


def _store_url(args: Args) -> tuple[str, Settings] | None:
    """The Redis URL for direct store access: --redis-url, else the settings' URL, else a running embedded store."""
    from server.embedded import running_url

    settings = _settings(args)
    url = settings.redis_url or running_url(settings.data_dir)
    return (url, settings) if url else None


def _direct(args: Args) -> tuple[str, Settings] | None:
    """Where to create or revoke a token directly in the store, or None to use the HTTP API."""
    target = resolve_target(args)
    if args.redis_url or not (target.url and target.token):
        found = _store_url(args)
        if found is None:
            raise UsageError("no server: set --url and --token (or PLENARY_URL and PLENARY_TOKEN), or pass "
                             "--redis-url, or run this in the directory where `plenary serve` keeps its data "
                             "(--data-dir)")  # fmt: skip
        return found
    return None


def cmd_token_create(args: Args) -> int:
    import secrets

    name: str = args.name or f"{args.role}-{secrets.token_hex(3)}"
    events: list[str] = args.event or []
    direct = _direct(args)

    async def via_store(url: str, settings: Settings) -> str:
        from pydantic import ValidationError

        from server.auth import digest, new_token
        from server.errors import PlenaryError
        from server.models import TokenCreate, TokenInfo
        from server.store import Store

        try:
            body = TokenCreate(name=name, role=args.role, events=events)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            raise UsageError(f"{'.'.join(map(str, error['loc']))}: {error['msg']}") from exc
        store = await Store.from_settings(settings, url)
        try:
            await store.check_durability()
            token = new_token()
            await store.create_token(
                TokenInfo(name=body.name, role=body.role, events=body.events), digest(token), by="plenary token create"
            )
        except PlenaryError as exc:
            if exc.status < 500:
                raise UsageError(exc.detail) from exc
            raise RuntimeError(exc.detail) from exc
        finally:
            await store.aclose()
        return token

    async def via_api() -> str:
        async with connect(args) as api:
            return (await api.create_token(name, args.role, events)).token

    token = run(lambda: via_store(*direct)) if direct is not None else run(via_api)
    scope = f" on {', '.join(events)}" if events else ""
    print(f"token {name!r} ({args.role}{scope}) created; it is shown only this once:", file=sys.stderr)
    print(token)
    return EXIT_OK


def cmd_token_revoke(args: Args) -> int:
    direct = _direct(args)

    async def via_store(url: str, settings: Settings) -> None:
        from server.store import Store

        store = await Store.from_settings(settings, url)
        try:
            await store.check_durability()
            if not await store.revoke_token(args.name, by="plenary token revoke"):
                raise UsageError(f"no token named {args.name!r}")
        finally:
            await store.aclose()

    async def via_api() -> None:
        async with connect(args) as api:
            await api.revoke_token(args.name)

    if direct is not None:
        run(lambda: via_store(*direct))
    else:
        run(via_api)
    print(f"revoked {args.name!r}")
    return EXIT_OK


def cmd_store_migrate(args: Args) -> int:
    found = _store_url(args)
    if found is None:
        raise UsageError("no store: pass --redis-url, or run this where `plenary serve` keeps its data (--data-dir)")
    url, settings = found
    if settings.redis_cluster:
        raise UsageError("redis_cluster is set; Plenary 0.1.0 never ran on a Redis Cluster: nothing to migrate")

    async def work() -> int:
        from server.store import Store
        from server.store.migrate import ClusterRefused, migrate

        store = await Store.from_settings(settings, url)
        try:
            moved, kept = await migrate(store.client, settings.redis_prefix)
        except ClusterRefused as exc:
            raise UsageError(str(exc)) from exc
        finally:
            await store.aclose()
        for kind, count in sorted(moved.items()):
            print(f"{kind}: {count}")
        if not moved:
            print(f"no Plenary 0.1.0 keys under the prefix {settings.redis_prefix!r}: nothing to do")
        for problem in kept:
            print(f"plenary: {problem}", file=sys.stderr)
        return EXIT_FAILED if kept else EXIT_OK

    return run(work)


# --- events and agenda --------------------------------------------------------------------------------


def cmd_event_create(args: Args) -> int:
    body: dict[str, object] = {"id": args.id, "title": args.title, "timezone": args.timezone,
                               "starts_on": args.starts_on, "ends_on": args.ends_on or args.starts_on}  # fmt: skip
    if args.venue is not None:
        body["venue"] = args.venue
    if args.blog_title is not None:
        body["blog_title"] = args.blog_title

    async def work() -> int:
        async with connect(args) as api:
            event = await api.create_event(body)
        print(f"created event {event.id}: {', '.join(day.isoformat() for day in event.days)} ({event.timezone})")
        return EXIT_OK

    return run(work)


def cmd_event_show(args: Args) -> int:
    async def work() -> int:
        async with connect(args, need_token=False) as api:
            event = await api.get_event(args.id)
            sessions = await api.list_sessions(args.id) if args.sessions else None
        data: dict[str, object] = event.model_dump(mode="json")
        if sessions is not None:
            data["sessions"] = [session.model_dump(mode="json") for session in sessions]
        print_json(data)
        return EXIT_OK

    return run(work)


def cmd_event_list(args: Args) -> int:
    async def work() -> int:
        async with connect(args, need_token=False) as api:
            events = await api.list_events()
        for event in events:
            print(f"{event.id}\t{event.starts_on}..{event.ends_on}\t{event.title}")
        return EXIT_OK

    return run(work)


def cmd_agenda_import(args: Args) -> int:
    from clients.agenda import AgendaError, build_sessions, read_agenda

    try:
        data = read_agenda(args.file)
    except AgendaError as exc:
        raise UsageError(str(exc)) from exc

    async def work() -> int:
        async with connect(args, need_token=not args.dry_run) as api:
            event = await api.get_event(args.event)
            try:
                requests = build_sessions(data, event)
            except AgendaError as exc:
                raise UsageError(f"{args.file}: {exc}") from exc
            if args.dry_run:
                print_json({request.id: request.body for request in requests})
                return EXIT_OK
            created = 0
            for request in requests:
                try:
                    _session, is_new = await api.put_session(event.id, request.id, request.body)
                except Exception:
                    done = requests.index(request)
                    print(f"plenary: stopped at session {request.id!r} ({done} of {len(requests)} imported)",
                          file=sys.stderr)  # fmt: skip
                    raise
                created += is_new
                print(f"{'created' if is_new else 'updated'} {request.id}\t{request.body['starts_at']}\t"
                      f"{request.title}")  # fmt: skip
        print(f"{len(requests)} sessions: {created} created, {len(requests) - created} updated", file=sys.stderr)
        return EXIT_OK

    return run(work)


def cmd_demo(args: Args) -> int:
    from clients.demo import SCRIPTS, DemoError, replay

    day = getattr(args, "day", 1)

    target = resolve_target(args)
    if not (target.url and target.token):
        raise UsageError("the demo needs a server URL and an admin token (--url/--token or PLENARY_URL/PLENARY_TOKEN)")
    try:
        ids = run(lambda: replay(target.url or "", target.token or "", speed=args.speed, day=day,
                                  progress=lambda line: print(line, flush=True)))  # fmt: skip
    except DemoError as exc:
        print(f"plenary: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{len(ids)} updates posted; open {(target.url or '').rstrip('/')}/events/{SCRIPTS[day].event['id']}")
    return EXIT_OK


async def with_client(args: Args, call: Callable[[ApiClient], Coroutine[Any, Any, T]]) -> T:
    async with connect(args) as api:
        return await call(api)
