"""What the plenary reflections commands do: compile, show, edit in $EDITOR, publish."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

from clients.commands import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    Args,
    UsageError,
    connect,
    print_json,
    resolve_target,
    run,
    with_client,
)


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(f"--day: expected YYYY-MM-DD, got {value!r}") from exc


def cmd_reflections_compile(args: Args) -> int:
    import asyncio

    day = _day(args.day)

    async def work() -> int:
        async with connect(args) as api:
            queued = await api.compile_reflections(args.event, day, replace=args.replace)
            if args.no_wait:
                print(f"queued {queued.get('job')}")
                return EXIT_OK
            async with asyncio.timeout(args.wait_seconds):
                while True:
                    post = await api.get_reflections(args.event, day)
                    if post.get("status") != "compiling":
                        break
                    await asyncio.sleep(0.5)
            print(f"{post.get('status')} v{post.get('version')}: {post.get('title')}")
            return EXIT_OK

    return run(work)


def cmd_reflections_show(args: Args) -> int:
    day = _day(args.day)

    async def work() -> int:
        async with connect(args, need_token=False) as api:
            post = await api.get_reflections(args.event, day)
        if args.json:
            print_json(post)
        else:
            print(f"# {post.get('title')}  [{post.get('status')}, version {post.get('version')}]\n")
            print(post.get("markdown") or post.get("html") or "")
        return EXIT_OK

    return run(work)


def cmd_reflections_edit(args: Args) -> int:
    """Open $EDITOR on the draft's Markdown and save it with the version that was read."""
    import shlex
    import subprocess
    import tempfile

    from clients.api_client import ApiError

    day = _day(args.day)
    post = run(lambda: with_client(args, lambda api: api.get_reflections(args.event, day)))
    version = int(str(post.get("version", 0)))
    original = str(post.get("markdown") or "")
    with tempfile.NamedTemporaryFile("w", suffix=".md", prefix=f"{args.event}-{day}-", delete=False) as handle:
        handle.write(original)
        path = Path(handle.name)
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    if subprocess.run([*shlex.split(editor), str(path)], check=False).returncode != 0:
        raise UsageError(f"the editor {editor!r} failed; your text is in {path}")
    edited = path.read_text(encoding="utf-8")
    if edited == original:
        print("no changes")
        path.unlink()
        return EXIT_OK
    try:
        saved = run(lambda: with_client(args, lambda api: api.save_reflections(args.event, day, edited, version)))
    except ApiError as exc:
        if exc.status == 409:
            print(f"plenary: error: someone saved a newer version while you edited version {version}; nothing "
                  f"was overwritten. Your text is kept in {path}: run `plenary reflections show` to see theirs, "
                  f"then edit again.", file=sys.stderr)  # fmt: skip
            return EXIT_BAD_INPUT
        raise
    path.unlink()
    print(f"saved version {saved.get('version')}")
    return EXIT_OK


def cmd_reflections_publish(args: Args) -> int:
    day = _day(args.day)
    post = run(lambda: with_client(args, lambda api: api.publish_reflections(args.event, day)))
    target = resolve_target(args)
    print(f"published: {(target.url or '').rstrip('/')}{post.get('url')}")
    return EXIT_OK
