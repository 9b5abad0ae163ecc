"""plenary serve: settings, logging, embedded store if no URL, the web app(s), the in-process worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
import sys
from collections.abc import Callable
from types import FrameType

from aiohttp import web

from config.logs import configure_logging
from config.settings import Settings
from server.app import create_app
from server.auth import digest, new_token
from server.client import LOOPBACK_HOSTS
from server.drain import handle_signals
from server.embedded import EmbeddedValkey
from server.models import Role, TokenInfo
from server.store import Store

logger = logging.getLogger("plenary")


async def bootstrap_admin(settings: Settings) -> str | None:
    """Create the first admin token when none is configured or stored; return it (shown once) or None."""
    if settings.admin_token:
        return None
    store = await Store.open(settings.redis_url, prefix=settings.redis_prefix, timeout=settings.redis_timeout)
    try:
        await store.check_durability()
        if any(t.role is Role.ADMIN for t in await store.list_tokens()):
            return None
        token = new_token()
        await store.create_token(TokenInfo(name="admin", role=Role.ADMIN, events=[]), digest(token), by="plenary serve")
        return token
    finally:
        await store.aclose()


def _announce(settings: Settings, token: str | None) -> None:
    base = settings.base_url
    lines = [
        f"Plenary is running at {base}  (API: {base}/api/openapi.json, ready: {base}/readyz)",
        f"Readers open {base}/events/<event>; reporters {base}/desk/events/<event>; editors "
        f"{base}/desk/events/<event>/days/<YYYY-MM-DD>. `plenary demo` creates a sample event.",
    ]
    if token:
        lines += [
            "",
            "First start: an admin token was created. It is shown only this once; keep it safe:",
            f"    export PLENARY_TOKEN={token}",
            f"    export PLENARY_URL={base}",
            "Then: plenary event create ..., plenary token create --name Sam --role reporter --event ID",
            "",
        ]
    elif not settings.admin_token:
        lines.append("Admin tokens exist. Make another with: plenary token create --name NAME --role admin")
    print("\n".join(lines), flush=True)


def _run_app(settings: Settings, *, reuse_port: bool = False, ready: Callable[[], None] | None = None) -> None:
    """Serve until a signal; ``ready`` runs once the port listens (after start-up has logged what it does)."""
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    app = create_app(settings)
    app.on_startup.append(handle_signals)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        reuse_port=reuse_port,
        print=None if ready is None else lambda _banner: ready(),
        access_log=None,
        handle_signals=False,  # server.drain handles SIGTERM and SIGINT
        # An idle connection, or one still sending its request's headers (slowloris), is closed after this:
        # aiohttp arms the timer when the connection opens and re-arms it only after each answer.
        keepalive_timeout=settings.idle_timeout_seconds,
        max_line_size=settings.max_header_bytes,
        max_field_size=settings.max_header_bytes,
        max_headers=settings.max_headers,
    )


def _child(settings_json: str) -> None:
    settings = Settings.model_validate_json(settings_json)
    configure_logging(settings.log_level, settings.log_format)
    _run_app(settings, reuse_port=True)


def serve(settings: Settings) -> int:
    """Run Plenary until SIGINT or SIGTERM; start and stop the embedded store when no Redis URL is set."""
    configure_logging(settings.log_level, settings.log_format)
    embedded: EmbeddedValkey | None = None
    if not settings.redis_url:
        embedded = EmbeddedValkey(settings.data_dir)
        logger.info("starting the embedded store in %s", embedded.data_dir)
        settings = settings.model_copy(update={"redis_url": embedded.start()})
    if not settings.public_url and settings.host not in LOOPBACK_HOSTS:
        logger.warning("public_url is unset while listening on %s: links in pages, feeds and photo URLs use the "
                       "address a client connected to only when it is this server's own IP, else %s; set "
                       "public_url to the address readers use", settings.host, settings.base_url)  # fmt: skip
    stop_signal = signal.getsignal(signal.SIGTERM)
    try:
        logger.info("store: %s", settings.masked()["redis_url"])
        token = asyncio.run(bootstrap_admin(settings))
        if settings.processes == 1:
            _run_app(settings, ready=lambda: _announce(settings, token))
            return 0
        return _run_processes(settings, ready=lambda: _announce(settings, token))
    finally:
        signal.signal(signal.SIGTERM, stop_signal)
        if embedded is not None:
            embedded.stop()


def _run_processes(settings: Settings, ready: Callable[[], None]) -> int:
    """Run ``settings.processes`` server processes sharing the port (SO_REUSEPORT); stop them on a signal."""
    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=_child, args=(settings.model_dump_json(),), daemon=True)
                for _ in range(settings.processes)]  # fmt: skip
    for child in children:
        child.start()
    logger.info("started %d server processes: %s", len(children), ", ".join(str(c.pid) for c in children))
    ready()
    stopping = False

    def _stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.is_alive():
                child.terminate()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    for child in children:
        child.join()
    return 0 if stopping else 1


def main(argv: list[str] | None = None) -> int:
    """python -m server: the same as `plenary serve` with settings from the environment."""
    from clients.cli import main as cli_main

    return cli_main(["serve", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
