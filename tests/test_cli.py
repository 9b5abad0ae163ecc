"""The plenary command line end to end: real subprocesses against real server processes on the real store."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from conftest import ADMIN_TOKEN, ROOT, LiveServer, free_port

EVENT_FLAGS = ["--id", "socitm-2011", "--title", "SOCITM 2011", "--venue", "the NEC", "--timezone", "Europe/London",
               "--starts-on", "2011-10-10", "--ends-on", "2011-10-11",
               "--blog-title", "Smarter Government – Microsoft at SOCITM 2011"]  # fmt: skip
CLI = [sys.executable, "-m", "clients.cli"]
AT = ["--at", "2011-10-10T11:00:00+01:00"]  # the event's days are in 2011; posts without --at happen now


def cli_env(home: Path, url: str | None = None, token: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a CLI run: no PLENARY_* from outside, a private HOME (no stray client config)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLENARY_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), **extra)
    if url:
        env["PLENARY_URL"] = url
    if token:
        env["PLENARY_TOKEN"] = token
    return env


def run_cli(
    *args: str, env: dict[str, str], stdin: str | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run `plenary ARGS` as a real process; never a traceback, whatever the outcome."""
    done = subprocess.run([*CLI, *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    return done


def ok(*args: str, env: dict[str, str], stdin: str | None = None) -> str:
    done = run_cli(*args, env=env, stdin=stdin)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def reporter(live_server: LiveServer, home: Path, name: str = "Drew") -> dict[str, str]:
    """Create SOCITM 2011 and a reporter token with the CLI as admin; return the reporter's environment."""
    admin = cli_env(home, live_server.url, ADMIN_TOKEN)
    assert "created event socitm-2011" in ok("event", "create", *EVENT_FLAGS, env=admin)
    token = ok("token", "create", "--name", name, "--role", "reporter", "--event", "socitm-2011", env=admin).strip()
    assert token.startswith("pln_") and "\n" not in token
    return cli_env(home, live_server.url, token)


def api_reporter(live_server: LiveServer, home: Path) -> dict[str, str]:
    """The same set-up as reporter(), straight through the API (for tests about something else)."""
    event = dict(zip(EVENT_FLAGS[::2], EVENT_FLAGS[1::2], strict=True))
    body = {flag.removeprefix("--").replace("-", "_"): value for flag, value in event.items()}
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
    for path, data in (("/api/events", body), ("/api/tokens", {"name": "Drew", "role": "reporter",
                                                                 "events": ["socitm-2011"]})):  # fmt: skip
        request = urllib.request.Request(live_server.url + path, json.dumps(data).encode(), admin, method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:
            answer = json.loads(response.read())
    return cli_env(home, live_server.url, answer["token"])


def put_session(live_server: LiveServer, home: Path, session: str = "opening") -> None:
    agenda = home / "agenda.toml"
    agenda.write_text(f'[[sessions]]\nid = "{session}"\ntitle = "Opening plenary"\nkind = "plenary"\n'
                      'start = "2011-10-10T09:30:00+01:00"\n', encoding="utf-8")  # fmt: skip
    ok("agenda", "import", str(agenda), "--event", "socitm-2011", env=cli_env(home, live_server.url, ADMIN_TOKEN))


def test_help_imports_nothing_heavy() -> None:
    heavy = ("aiohttp", "pydantic", "redis", "yaml", "server.models")
    code = "import sys, clients.cli\nfor argv in (['--help'], ['post', '--help'], ['token', 'create', '--help']):\n"
    code += "    assert clients.cli.main(argv) == 0\n"
    code += f"print([m for m in {heavy} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "--idempotency-key" in done.stdout, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "[]", done.stdout + done.stderr


def test_reporter_posts_edits_and_deletes(live_server: LiveServer, tmp_path: Path) -> None:
    env = reporter(live_server, tmp_path)
    put_session(live_server, tmp_path)
    shown = json.loads(ok("event", "show", "socitm-2011", "--sessions", env=env))
    assert shown["days"] == ["2011-10-10", "2011-10-11"] and shown["sessions"][0]["id"] == "opening"

    out = ok("post", "Jos Creese opens: councils must *share* more.", "--event", "socitm-2011", "--session", "opening",
             "--key", "--quote", "Share or perish", "--speaker", "Jos Creese", "--image", "https://example.org/a.jpg",
             "--caption", "The stage", "--alt", "A man at a lectern", "--tag", "shared-services", "--tag", "keynote",
             "--at", "2011-10-10T09:41:00+01:00", env=env)  # fmt: skip
    update_id, seq = out.split()
    assert re.fullmatch(r"\d+-\d+", seq)
    update = get_json(f"{live_server.url}/api/events/socitm-2011/updates/{update_id}")
    assert update["seq"] == seq and update["author"] == {"name": "Drew"} and update["key"] is True
    assert update["session"] == "opening" and update["tags"] == ["shared-services", "keynote"]
    assert update["quote"] == {"text": "Share or perish", "speaker": "Jos Creese"}
    assert update["image"] == {"url": "https://example.org/a.jpg", "caption": "The stage", "alt": "A man at a lectern"}
    assert update["happened_at"] == "2011-10-10T08:41:00Z"

    # a local time is read in the event's time zone (London, BST in October)
    second_id, _ = ok("post", "-", "--event", "socitm-2011", "--at", "2011-10-10 10:05", env=env,
                      stdin="From standard input").split()  # fmt: skip
    second = get_json(f"{live_server.url}/api/events/socitm-2011/updates/{second_id}")
    assert second["text"] == "From standard input" and second["happened_at"] == "2011-10-10T09:05:00Z"

    out = ok("edit", update_id, "--event", "socitm-2011", "--text", "Corrected", "--no-key", "--clear", "session",
             "--clear", "image", "--tag", "fixed", env=env)  # fmt: skip
    assert out.split() == [update_id, "version", "2"]
    update = get_json(f"{live_server.url}/api/events/socitm-2011/updates/{update_id}")
    assert (update["text"], update["key"], update["session"], update["image"], update["tags"], update["version"]) == (
        "Corrected",
        False,
        None,
        None,
        ["fixed"],
        2,
    )
    assert update["quote"]["speaker"] == "Jos Creese"  # untouched

    stale = run_cli("edit", update_id, "--event", "socitm-2011", "--text", "x", "--version", "1", env=env)
    assert stale.returncode == 2 and "stale" in stale.stderr and "version" in stale.stderr

    assert ok("delete", update_id, "--event", "socitm-2011", env=env).strip() == f"deleted {update_id}"
    with pytest.raises(urllib.error.HTTPError) as gone:
        get_json(f"{live_server.url}/api/events/socitm-2011/updates/{update_id}")
    assert gone.value.code == 404
    gone.value.close()
    again = run_cli("delete", update_id, "--event", "socitm-2011", env=env)
    assert again.returncode == 2 and "no update" in again.stderr


def test_failures_print_the_detail_and_exit_non_zero(live_server: LiveServer, tmp_path: Path) -> None:
    env = api_reporter(live_server, tmp_path)
    closed = {**env, "PLENARY_URL": f"http://127.0.0.1:{free_port()}"}
    post = ("post", "hello", "--event", "socitm-2011")
    cases: dict[str, tuple[tuple[str, ...], dict[str, str], int, tuple[str, ...]]] = {  # args, env, exit, stderr has
        "too long": (("post", "x" * 10_001, "--event", "socitm-2011", *AT), env, 2,
                     ("text: String should have at most 10000 characters", "422")),
        "unknown session": ((*post, "--session", "nope", *AT), env, 2, ("session: no session 'nope'", "422")),
        "image url": ((*post, "--image", "ftp://x/y.png", *AT), env, 2, ("image.url", "http")),
        "not an editor": (("event", "create", *EVENT_FLAGS[:-2], "--id", "other"), env, 2, ("403", "editor")),
        "bad token": ((*post, *AT), {**env, "PLENARY_TOKEN": "pln_nope"}, 2, ("unknown or revoked token", "401")),
        "no url": (post, cli_env(tmp_path), 2, ("no server URL", "PLENARY_URL")),
        "speaker alone": ((*post, "--speaker", "Jos"), env, 2, ("--speaker goes with --quote",)),
        "bad --at": ((*post, "--at", "soon"), env, 2, ("--at: 'soon' is neither HH:MM nor",)),
        "unreachable": (("event", "show", "socitm-2011"), closed, 1, ("cannot reach",)),
        "retries spent": ((*post, *AT, "--retry-seconds", "1"), closed, 1, ("cannot reach", "retrying")),
    }  # fmt: skip
    with ThreadPoolExecutor(4) as pool:
        done = dict(zip(cases, pool.map(lambda case: run_cli(*case[0], env=case[1]), cases.values()), strict=True))
    # only posts retry a server that cannot be reached (each answer above came without waiting for a retry budget)
    assert [name for name, result in done.items() if "retrying" in result.stderr] == ["retries spent"]
    for name, (_args, _env, code, needles) in cases.items():
        assert done[name].returncode == code, (name, done[name].stderr)
        assert done[name].stdout == "", name
        for needle in needles:
            assert needle in done[name].stderr, (name, needle, done[name].stderr)
    assert get_json(f"{live_server.url}/api/events/socitm-2011/updates")["updates"] == []


def test_url_and_token_from_flag_env_or_client_config(live_server: LiveServer, tmp_path: Path) -> None:
    config = tmp_path / ".config" / "plenary" / "client.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'url = "{live_server.url}"\ntoken = "{ADMIN_TOKEN}"\n', encoding="utf-8")
    assert "created event" in ok("event", "create", *EVENT_FLAGS, env=cli_env(tmp_path))  # the default file
    bad_env = cli_env(tmp_path, token="pln_wrong")
    denied = run_cli("token", "create", "--name", "a", "--role", "editor", env=bad_env)  # env beats the file
    assert denied.returncode == 2 and "unknown or revoked token" in denied.stderr
    ok("token", "create", "--name", "b", "--role", "editor", "--token", ADMIN_TOKEN, env=bad_env)  # flag beats env

    other = tmp_path / "other.toml"
    other.write_text(f'url = "{live_server.url}"\ntoken = "pln_wrong"\n', encoding="utf-8")
    denied = run_cli("token", "create", "--name", "c", "--role", "editor", "--client-config", str(other),
                     env=cli_env(tmp_path))  # fmt: skip
    assert denied.returncode == 2 and "unknown or revoked token" in denied.stderr
    missing = run_cli("event", "list", "--client-config", str(tmp_path / "missing.toml"), env=cli_env(tmp_path))
    assert missing.returncode == 2 and "no client config file" in missing.stderr


def test_tokens_direct_in_store_and_revoke(live_server: LiveServer, store_url: str, prefix: str,
                                           tmp_path: Path) -> None:  # fmt: skip
    env = cli_env(tmp_path, PLENARY_REDIS_PREFIX=prefix)
    ok("event", "create", *EVENT_FLAGS, env=cli_env(tmp_path, live_server.url, ADMIN_TOKEN))
    editor = ok("token", "create", "--name", "Eve Editor", "--role", "editor", "--event", "socitm-2011",
                "--redis-url", store_url, env=env).strip()  # fmt: skip
    as_editor = cli_env(tmp_path, live_server.url, editor)
    update_id, _ = ok("post", "by the editor", "--event", "socitm-2011", *AT, env=as_editor).split()

    taken = run_cli("token", "create", "--name", "Eve Editor", "--role", "reporter", "--redis-url", store_url, env=env)
    assert taken.returncode == 2 and "exists" in taken.stderr

    nowhere = run_cli("token", "create", "--role", "admin", "--data-dir", str(tmp_path / "empty"), env=env)
    assert nowhere.returncode == 2 and "no server" in nowhere.stderr

    admin = cli_env(tmp_path, live_server.url, ADMIN_TOKEN)
    assert ok("token", "revoke", "Eve Editor", env=admin).strip() == "revoked 'Eve Editor'"
    revoked = run_cli("edit", update_id, "--event", "socitm-2011", "--text", "x", env=as_editor)
    assert revoked.returncode == 2 and "unknown or revoked token" in revoked.stderr
    again = run_cli("token", "revoke", "Eve Editor", env=admin)
    assert again.returncode == 2 and "no token named" in again.stderr


def test_config_masks_secrets(tmp_path: Path) -> None:
    env = cli_env(tmp_path, PLENARY_ADMIN_TOKEN="very-secret-admin-token",
                  PLENARY_REDIS_URL="redis://:hunter2@redis.example:6379/0")  # fmt: skip
    out = ok("config", env=env)
    settings = json.loads(out)
    assert settings["admin_token"] == "***" and settings["redis_url"] == "redis://***@redis.example:6379/0"
    assert "very-secret-admin-token" not in out and "hunter2" not in out


# --- retries keep the Idempotency-Key: a real proxy in front of the real server ---------------------


class FlakyProxy:
    """Forwards to the server, but loses the answer to the first post (dropped connection) and answers the
    second with a bare 503 and Retry-After: 1, as a load balancer might."""

    def __init__(self, upstream: str, script: list[str], watch: tuple[str, str] = ("POST", "/updates")) -> None:
        self.upstream = upstream
        self.script = script  # per watched write: "drop" (forward, then cut the connection), "503", "429", "forward"
        self.watch = watch  # (method, path suffix) of the writes the script applies to
        self.keys: list[str | None] = []
        self.times: list[float] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        step = "forward"
        if request.method == self.watch[0] and request.path.endswith(self.watch[1]):
            self.keys.append(request.headers.get("Idempotency-Key"))
            self.times.append(time.monotonic())
            step = self.script[len(self.keys) - 1] if len(self.keys) <= len(self.script) else self.script[-1]
        if step in ("503", "429"):
            return web.Response(status=int(step), text="Not now", headers={"Retry-After": "1"})
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with (
            aiohttp.ClientSession() as session,
            session.request(request.method, self.upstream + request.path_qs, data=body, headers=headers) as answer,
        ):
            raw = await answer.read()
            status, content_type = answer.status, answer.headers.get("Content-Type", "application/json")
        if step == "drop":
            assert request.transport is not None
            request.transport.abort()  # the update is stored, but its answer never reaches the client
        return web.Response(status=status, body=raw, headers={"Content-Type": content_type})


@pytest.fixture
async def flaky(live_server: LiveServer) -> Any:
    async def start(script: list[str], watch: tuple[str, str] = ("POST", "/updates")) -> tuple[str, FlakyProxy]:
        proxy = FlakyProxy(live_server.url, script, watch)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", proxy.handle)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return f"http://127.0.0.1:{port}", proxy

    runners: list[web.AppRunner] = []
    yield start
    for runner in runners:
        await runner.cleanup()


async def cli_async(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(*CLI, *args, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)  # fmt: skip
    async with asyncio.timeout(40):
        out, err = await process.communicate()
    assert "Traceback" not in err.decode(), err.decode()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_post_retries_with_the_same_idempotency_key(live_server: LiveServer, flaky: Any, tmp_path: Path) -> None:
    env = api_reporter(live_server, tmp_path)
    url, proxy = await flaky(["drop", "503", "forward"])
    code, out, err = await cli_async("post", "Only once, please", "--event", "socitm-2011", "--key", *AT,
                                     env={**env, "PLENARY_URL": url})  # fmt: skip
    assert code == 0, err
    assert len(proxy.keys) == 3 and proxy.keys[0] and len(set(proxy.keys)) == 1, proxy.keys
    assert proxy.times[2] - proxy.times[1] >= 0.95  # Retry-After: 1 was honoured
    first, second = err.splitlines()[:2]
    assert "no answer" in first and "retrying" in first  # the lost answer: a dropped connection
    assert "503" in second and "retrying in 1" in second  # Retry-After: 1

    listing = get_json(f"{live_server.url}/api/events/socitm-2011/updates")
    assert [u["text"] for u in listing["updates"]] == ["Only once, please"]  # stored once, on the first attempt
    assert out.split() == [listing["updates"][0]["id"], listing["updates"][0]["seq"]]

    # a server that stays unavailable: bounded retries, then the detail and exit status 1
    url, proxy = await flaky(["503"])
    started = time.monotonic()
    code, out, err = await cli_async("post", "never", "--event", "socitm-2011", *AT, "--retry-seconds", "1.5",
                                     env={**env, "PLENARY_URL": url})  # fmt: skip
    assert code == 1 and out == ""
    assert "Not now" in err.splitlines()[-1] and "503" in err.splitlines()[-1]
    assert len(proxy.keys) == 2 and len(set(proxy.keys)) == 1  # Retry-After: 1 leaves room for one retry in 1.5 s
    assert time.monotonic() - started < 10
    assert len(get_json(f"{live_server.url}/api/events/socitm-2011/updates")["updates"]) == 1


async def test_every_write_sends_a_key_and_waits_as_retry_after_says(
    live_server: LiveServer, flaky: Any, tmp_path: Path
) -> None:
    env = api_reporter(live_server, tmp_path)
    update_id, _ = (await cli_async("post", "first", "--event", "socitm-2011", *AT, env=env))[1].split()
    url, proxy = await flaky(["429", "forward"], watch=("PATCH", update_id))
    code, out, err = await cli_async("edit", update_id, "--event", "socitm-2011", "--text", "second",
                                     env={**env, "PLENARY_URL": url})  # fmt: skip
    assert code == 0 and out.split() == [update_id, "version", "2"], err
    assert len(proxy.keys) == 2 and proxy.keys[0] and proxy.keys[0] == proxy.keys[1], proxy.keys
    assert proxy.times[1] - proxy.times[0] >= 0.95 and "429" in err  # Retry-After: 1 was honoured

    # a write that may have been applied is not blindly repeated: a cut connection fails the edit
    url, proxy = await flaky(["drop"], watch=("PATCH", update_id))
    code, _, err = await cli_async("edit", update_id, "--event", "socitm-2011", "--text", "third",
                                   env={**env, "PLENARY_URL": url})  # fmt: skip
    assert code == 1 and len(proxy.keys) == 1 and "cannot reach" in err


# --- plenary serve on an empty data dir ---------------------------------------------------------------


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, command name) of the live children of ``pid``, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append((int(stat.parent.name), name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=1) as response:
            status: int = response.status
    except OSError:
        return False
    return status == 200


@pytest.fixture
def serve_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path, Path]]:
    data = tmp_path / "var"
    port = free_port()
    log = tmp_path / "serve.out"
    env = cli_env(tmp_path)
    with log.open("wb") as out:
        process = subprocess.Popen([*CLI, "serve", "--data-dir", str(data), "--port", str(port)], cwd=ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        yield process, f"http://127.0.0.1:{port}", data, log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_starts_the_embedded_store_and_stops_it(
    serve_process: tuple[subprocess.Popen[bytes], str, Path, Path], tmp_path: Path, signum: signal.Signals
) -> None:
    process, url, data, log = serve_process
    deadline = time.monotonic() + 10
    while not _ready(url):
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "no /readyz 200 within 10 s:\n" + log.read_text()
        time.sleep(0.05)
    output = log.read_text()
    tokens = re.findall(r"export PLENARY_TOKEN=(\S+)", output)
    assert len(tokens) == 1, output
    valkeys = [pid for pid, name in _children(process.pid) if "valkey" in name]
    assert len(valkeys) == 1, _children(process.pid)
    assert (data / "valkey.sock").exists() and (data / "appendonlydir").is_dir()

    if signum == signal.SIGTERM:
        assert "created event" in ok("event", "create", *EVENT_FLAGS, env=cli_env(tmp_path, url, tokens[0]))
        # another admin token, made directly in the running embedded store (no URL, no token), works too
        second = ok("token", "create", "--name", "second-admin", "--role", "admin", "--data-dir", str(data),
                    env=cli_env(tmp_path)).strip()  # fmt: skip
        assert second.startswith("pln_") and second != tokens[0]
        ok("token", "create", "--name", "Drew", "--role", "reporter", "--event", "socitm-2011",
           env=cli_env(tmp_path, url, second))  # fmt: skip

    process.send_signal(signum)
    assert process.wait(10) == 0, log.read_text()
    deadline = time.monotonic() + 5
    while _alive(valkeys[0]):
        assert time.monotonic() < deadline, f"valkey-server {valkeys[0]} outlived plenary serve"
        time.sleep(0.05)
    assert not _ready(url)
