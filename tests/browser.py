"""Shared helpers for browser tests: Debian's Chromium driven by Playwright, loopback only, bounded waits."""

from __future__ import annotations

import json
import os
import struct
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Dialog, Page, Route

CHROMIUM = Path(os.environ.get("PLENARY_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
#: Image URLs under this origin are answered by the test (see ``fake_images``), never fetched.
IMAGES = "https://images.plenary.test"
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}
#: Console messages that are expected when the network is cut on purpose or a server restarts.
BENIGN = ("Failed to load resource", "WebSocket connection to", "net::ERR_")


def require_chromium() -> str:
    """The Chromium binary, or skip the test (outside CI) / fail it (CI=true) when it or Playwright is missing."""
    reason = ""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "browser tests: Playwright for Python is missing; enable with: make install"
    if not reason and not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        reason = f"browser tests: {CHROMIUM} is missing; enable with: sudo apt-get install chromium"
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
        pytest.skip(reason)
    return str(CHROMIUM)


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium from the system (Playwright never downloads a browser here)."""
    from playwright.sync_api import sync_playwright

    executable = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS,
                                             timeout=20_000)  # fmt: skip
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watch:
    """What a page did that a test may want to assert on: errors, dialogs, console output."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Page errors and console errors other than expected network failures (CSP violations included)."""
        return self.errors + [m for m in self.console if m.startswith("error:") and not any(b in m for b in BENIGN)]


def png(width: int, height: int, pixel: Callable[[int, int], tuple[int, int, int]]) -> bytes:
    """A small RGB PNG drawn by ``pixel(x, y)``; used for images the test serves itself."""
    rows = b"".join(b"\x00" + bytes(c for x in range(width) for c in pixel(x, y)) for y in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def stage_photo(width: int = 480, height: int = 270) -> bytes:
    """A calm placeholder 'photo': a dusk gradient with a lit stage."""

    def pixel(x: int, y: int) -> tuple[int, int, int]:
        t = y / height
        r, g, b = int(40 + 60 * t), int(52 + 40 * t), int(96 - 30 * t)
        if abs(x - width / 2) < width * 0.28 and y > height * 0.62:
            r, g, b = 214, 170, 92
        return r, g, b

    return png(width, height, pixel)


def new_page(browser: Browser, *, width: int = 1280, height: int = 900, dark: bool = False,
             images: dict[str, bytes] | None = None, javascript: bool = True,
             service_workers: bool = False) -> tuple[Page, Watch]:  # fmt: skip
    """A page in a fresh context that may only reach loopback; ``images`` maps IMAGES paths to PNG bytes."""
    context: BrowserContext = browser.new_context(
        viewport={"width": width, "height": height},
        java_script_enabled=javascript,
        color_scheme="dark" if dark else "light",
        service_workers="allow" if service_workers else "block",
        locale="en-GB",
        reduced_motion="reduce",
    )
    context.set_default_timeout(5_000)
    served = images or {}

    def route(route: Route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if url.startswith(IMAGES) and parts.path in served:
            route.fulfill(status=200, body=served[parts.path], content_type="image/png")
        elif parts.hostname in LOOPBACK:
            route.continue_()
        else:
            route.abort()

    context.route("**/*", route)
    page = context.new_page()
    watch = Watch()

    def on_dialog(dialog: Dialog) -> None:
        watch.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        watch.console.append(f"{message.type}: {message.text}")

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.on("pageerror", lambda error: watch.errors.append(str(error)))
    return page, watch


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """Save a PNG to docs/screenshots/ (the README and reviewers look at these)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="hide")
    return path


class Api:
    """A tiny synchronous client of a live server's HTTP API, for setting up and driving browser tests."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self.base = base.rstrip("/")
        self.headers = headers

    def call(self, method: str, path: str, body: object | None = None, *, expect: int | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={**self.headers, "Content-Type": "application/json"})  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        if expect is not None and status != expect:
            raise AssertionError(f"{method} {path}: {status} {raw[:500]!r}")
        return json.loads(raw) if raw else None

    def post(self, event: str, **body: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.call("POST", f"/api/events/{event}/updates", body, expect=201)
        return result

    def edit(self, event: str, update_id: str, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.call("PATCH", f"/api/events/{event}/updates/{update_id}", changes, expect=200)
        return result

    def delete(self, event: str, update_id: str) -> None:
        self.call("DELETE", f"/api/events/{event}/updates/{update_id}", expect=204)


@contextmanager
def other_site(pages: dict[str, str], port: int) -> Iterator[str]:
    """A second aiohttp server on ``port`` (its own thread and loop): another origin serving ``pages`` as HTML."""
    import asyncio
    import threading

    from aiohttp import web

    async def serve(request: web.Request) -> web.Response:
        return web.Response(text=pages[request.path], content_type="text/html")

    ready = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> None:
        app = web.Application()
        for path in pages:
            app.router.add_get(path, serve)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        state["loop"], state["stop"] = asyncio.get_running_loop(), asyncio.Event()
        ready.set()
        try:
            await state["stop"].wait()
        finally:
            await runner.cleanup()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the other site did not start")
    try:
        yield f"http://localhost:{port}"
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(10)
