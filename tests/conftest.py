"""Shared fixtures: one real embedded store per run, a fresh key prefix per test, real servers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from clients.ready import wait_ready
from config.settings import Settings
from server.app import create_app
from server.embedded import EmbeddedValkey

# The fault suite (tests/faults, `make test-faults`) and the nginx stack (tests/stack, `make test-stack`) start
# and kill whole topologies of processes: not part of `make test`.
collect_ignore = [name for name, env in (("faults", "PLENARY_FAULTS"), ("stack", "PLENARY_STACK"))
                  if not os.environ.get(env)]  # fmt: skip

ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One store for the whole run, started by the code `plenary serve` uses (or PLENARY_TEST_REDIS_URL)."""
    external = os.environ.get("PLENARY_TEST_REDIS_URL")
    if external:
        yield external
        return
    with EmbeddedValkey(tmp_path_factory.mktemp("valkey")) as url:
        yield url


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def settings(store_url: str, prefix: str, tmp_path: Path) -> Settings:
    return Settings(redis_url=store_url, redis_prefix=prefix, admin_token=ADMIN_TOKEN, data_dir=tmp_path,
                    run_worker=False, keepalive_seconds=5.0, freeze_heap=False,
                    rate_limits=False)  # fmt: skip


@pytest.fixture
def make_app(settings: Settings) -> Callable[..., web.Application]:
    def make(**overrides: Any) -> web.Application:
        return create_app(settings.model_copy(update=overrides))

    return make


@pytest.fixture
async def client(aiohttp_client: Any, make_app: Callable[..., web.Application]) -> TestClient:  # type: ignore[type-arg]
    """A test client of a real app on a real socket, on a fresh key prefix."""
    return await aiohttp_client(make_app())  # type: ignore[no-any-return]


ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

EVENT = {
    "id": "socitm-2011",
    "title": "SOCITM 2011",
    "venue": "the NEC",
    "timezone": "Europe/London",
    "starts_on": "2011-10-10",
    "ends_on": "2011-10-11",
    "blog_title": "Smarter Government – Microsoft at SOCITM 2011",
}


async def make_event(client: TestClient, **changes: Any) -> dict[str, Any]:  # type: ignore[type-arg]
    """Create an event (SOCITM 2011 by default) as admin."""
    response = await client.post("/api/events", json={**EVENT, **changes}, headers=ADMIN)
    assert response.status == 201, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def make_token(client: TestClient, name: str, role: str = "reporter",  # type: ignore[type-arg]
                     events: list[str] | None = None) -> dict[str, str]:  # fmt: skip
    """Create a token and return the Authorization header that carries it."""
    body = {"name": name, "role": role, "events": ["socitm-2011"] if events is None else events}
    response = await client.post("/api/tokens", json=body, headers=ADMIN)
    assert response.status == 201, await response.text()
    return {"Authorization": f"Bearer {(await response.json())['token']}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A `python -m server` process on a loopback port."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(env: dict[str, str], log: Path, port: int | None = None, timeout: float = 15.0) -> LiveServer:
    """Start `python -m server` with ``env`` added to the environment, and wait until /readyz answers 200."""
    port = port or free_port()
    full_env = {**os.environ, "PLENARY_PORT": str(port), "PLENARY_HOST": "127.0.0.1", **env}
    with log.open("ab") as handle:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen([sys.executable, "-m", "server"], cwd=ROOT, env=full_env,
                                   stdout=handle, stderr=subprocess.STDOUT)  # fmt: skip
    server = LiveServer(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_ready(port, process, log, timeout=timeout)
    except RuntimeError:
        server.stop()
        raise
    return server


@pytest.fixture
def live_server_factory(store_url: str, prefix: str, tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start real server processes on the test's store and prefix; all are stopped at the end."""
    started: list[LiveServer] = []

    def start(port: int | None = None, **env: str) -> LiveServer:
        """``port`` fixes the port (to restart a server where its clients expect it); default: a free one."""
        base = {"PLENARY_REDIS_URL": store_url, "PLENARY_REDIS_PREFIX": prefix, "PLENARY_ADMIN_TOKEN": ADMIN_TOKEN,
                "PLENARY_RUN_WORKER": "false", "PLENARY_DATA_DIR": str(tmp_path),
                "PLENARY_RATE_LIMITS": "false"}  # fmt: skip
        server = start_server({**base, **env}, tmp_path / f"server{len(started)}.log", port=port)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def live_server(live_server_factory: Callable[..., LiveServer]) -> LiveServer:
    return live_server_factory()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """End the run by naming each group of skipped tests and the one command that enables it (its reason)."""
    groups: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        if isinstance(report.longrepr, tuple):
            groups[str(report.longrepr[2]).removeprefix("Skipped: ")] += 1
    if groups:
        terminalreporter.section("skipped test groups")
        for reason, count in groups.items():
            terminalreporter.write_line(f"{count} skipped: {reason}")
