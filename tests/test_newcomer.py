"""The newcomer's path: the README's Quick start pasted line by line, and a demo that is short and never doubles."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from clients.demo import pauses, replay
from clients.demo_day import EVENT_ID, STEPS, Delete, Post

from conftest import ADMIN_TOKEN, ROOT, LiveServer, free_port

SURVIVING = {s.ref for s in STEPS if isinstance(s, Post)} - {s.ref for s in STEPS if isinstance(s, Delete)}


def quick_start() -> list[str]:
    """The command lines of the README's Quick start, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.split(r"^#{2,3} ", text.split("\n## Quick start\n", 1)[1], flags=re.M)[0]
    return [line for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S)
            for line in block.splitlines() if line.strip()]  # fmt: skip


def updates(url: str, event: str = EVENT_ID) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/api/events/{event}/updates?limit=200", timeout=5) as response:
        listing: list[dict[str, Any]] = json.loads(response.read())["updates"]
    return listing


def lines_of(stream: IO[str]) -> tuple[queue.Queue[str], threading.Thread]:
    """Each line a process prints, as it prints it, from a thread that ends when the process's output does."""
    lines: queue.Queue[str] = queue.Queue()
    thread = threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True)
    thread.start()
    return lines, thread


def wait_for(lines: queue.Queue[str], pattern: str, *, count: int = 1, timeout: float = 60) -> list[re.Match[str]]:
    found: list[re.Match[str]] = []
    while len(found) < count:
        line = lines.get(timeout=timeout)  # queue.Empty: it never printed it
        if match := re.search(pattern, line):
            found.append(match)
    return found


@pytest.fixture
def started() -> Iterator[list[tuple[subprocess.Popen[str], threading.Thread]]]:
    """Processes a test starts, each in its own session, with their output readers: stopped at the end."""
    processes: list[tuple[subprocess.Popen[str], threading.Thread]] = []
    yield processes
    for process, reader in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        reader.join(5)
        assert process.stdout is not None
        process.stdout.close()


def test_quick_start_pasted_line_by_line(
    tmp_path: Path, started: list[tuple[subprocess.Popen[str], threading.Thread]]
) -> None:
    serve, *second_terminal = quick_start()
    assert serve == "make serve" and second_terminal[-1].startswith("plenary demo --speed 60")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLENARY_")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / ".config"), PLENARY_PORT=str(port),
               PLENARY_DATA_DIR=str(tmp_path / "var"))  # fmt: skip

    def bash(script: str) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
        process = subprocess.Popen(["bash", "-c", script], cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        assert process.stdout is not None
        lines, reader = lines_of(process.stdout)
        started.append((process, reader))
        return process, lines

    server, out = bash(serve)
    token = wait_for(out, r"export PLENARY_TOKEN=(pln_\S+)")[0][1]
    url = f"http://127.0.0.1:{port}"
    pasted = "\n".join(second_terminal).replace("http://127.0.0.1:8080", url).replace("pln_...", token)

    # the demo as pasted, interrupted after its first posts (at --speed 60 the whole of it takes minutes)
    demo, out = bash(pasted)
    wait_for(out, r"^posted ", count=3, timeout=30)
    os.killpg(demo.pid, signal.SIGINT)
    demo.wait(15)
    assert 3 <= len(updates(url)) < len(SURVIVING)

    # run again, at once this time: it finishes, and nothing the first run posted is posted twice
    again, out = bash(pasted.replace("--speed 60", "--speed 0"))
    assert again.wait(60) == 0
    assert wait_for(out, r"(\d+) updates posted; open (\S+)")[0][2] == f"{url}/events/{EVENT_ID}"
    texts = Counter((u["text"], u["happened_at"]) for u in updates(url))
    assert len(texts) == len(SURVIVING) - 1 and max(texts.values()) == 1  # one of them is on the other event
    assert server.poll() is None


def test_the_whole_demo_takes_under_three_minutes_at_speed_60() -> None:
    waits = pauses(STEPS, 60)
    assert 60 < sum(waits) < 180  # the night between the days and long sessions are shortened, not skipped
    assert pauses(STEPS, 0) == [0.0] * len(STEPS)


async def test_a_second_demo_run_adds_nothing(live_server: LiveServer) -> None:
    first = await replay(live_server.url, ADMIN_TOKEN)
    before = updates(live_server.url)
    second = await replay(live_server.url, ADMIN_TOKEN)
    after = updates(live_server.url)
    assert second == first and len(first) == len({s.ref for s in STEPS if isinstance(s, Post)})
    assert [(u["id"], u["text"]) for u in after] == [(u["id"], u["text"]) for u in before]
