"""plenary reflections compile|show|edit|publish against a real server and worker."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path

from clients.demo import replay
from clients.demo_day import DAY, EVENT_ID

from conftest import ADMIN_TOKEN, LiveServer
from test_cli import ok, run_cli


def _editor(tmp_path: Path, body: str) -> str:
    """An $EDITOR that runs ``body`` (Python) with the file to edit in ``path``."""
    script = tmp_path / "editor.py"
    script.write_text(f"import sys, pathlib\npath = pathlib.Path(sys.argv[1])\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return f"{sys.executable} {script}"


async def test_editor_workflow_from_the_command_line(live_server_factory: Callable[..., LiveServer],
                                                     tmp_path: Path) -> None:  # fmt: skip
    server = live_server_factory(PLENARY_RUN_WORKER="true")
    await replay(server.url, ADMIN_TOKEN)
    env = {**os.environ, "PLENARY_URL": server.url, "PLENARY_TOKEN": ADMIN_TOKEN}
    where = ["--event", EVENT_ID, "--day", DAY.isoformat()]

    compiled = ok("reflections", "compile", *where, env=env)
    assert compiled.startswith("draft v1") and "Day 2 Reflections" in compiled
    shown = ok("reflections", "show", *where, env=env)
    assert "Posted by Drew & Howard" in shown and "[draft, version 1]" in shown

    append = 'path.write_text(path.read_text() + "\\nEdited on the train home.\\n")'
    edited = ok("reflections", "edit", *where, env={**env, "EDITOR": _editor(tmp_path, append)})
    assert edited.strip() == "saved version 2"
    assert "Edited on the train home." in ok("reflections", "show", *where, env=env)

    # A second editor saves while the first is still in $EDITOR: the first save is refused, nothing lost.
    race = (
        "import subprocess, os\n"
        f"subprocess.run([sys.executable, '-m', 'clients.cli', 'reflections', 'edit', *{where!r}], check=True,\n"
        "               env={**os.environ, 'EDITOR': os.environ['INNER_EDITOR']})\n"
        "path.write_text(path.read_text() + '\\nMy slower change.\\n')"
    )
    inner_dir = tmp_path / "inner"
    inner_dir.mkdir()
    inner = _editor(inner_dir, 'path.write_text(path.read_text() + "\\nThe faster change.\\n")')
    stale = run_cli("reflections", "edit", *where,
                    env={**env, "EDITOR": _editor(tmp_path, race), "INNER_EDITOR": inner})  # fmt: skip
    assert stale.returncode == 2
    assert "newer version" in stale.stderr and "kept in" in stale.stderr
    kept = Path(stale.stderr.split("kept in ")[1].split(":")[0])
    assert "My slower change." in kept.read_text()
    current = ok("reflections", "show", *where, env=env)
    assert "The faster change." in current and "My slower change." not in current

    refused = run_cli("reflections", "compile", *where, env=env)
    assert refused.returncode == 2 and "replace" in refused.stderr
    published = ok("reflections", "publish", *where, env=env)
    assert published.strip().endswith(f"/events/{EVENT_ID}/days/{DAY}/reflections")
    public = ok("reflections", "show", *where, env={**env, "PLENARY_TOKEN": ""})
    assert "[published" in public
