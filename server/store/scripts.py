"""The Lua scripts, read from lua/*.lua: each script is the libraries it uses followed by its own body."""

from __future__ import annotations

import functools
from pathlib import Path

_LUA = Path(__file__).with_name("lua")

# The libraries each script uses, in order; every script that appends to a log uses "log".
_USES: dict[str, tuple[str, ...]] = {
    "create_update": ("log", "member", "pin"),
    "edit_update": ("log", "member", "pin"),
    "delete_update": ("log", "member"),
    "append": ("log",),
    "delete_session": ("log",),
    "reflections_publish": ("log",),
}


@functools.cache
def _read(name: str) -> str:
    return (_LUA / f"{name}.lua").read_text(encoding="utf-8")


def source(name: str, *, sharded: bool = False) -> str:
    """The full text of script ``name``; ``sharded`` announces with SPUBLISH (Redis Cluster) instead of PUBLISH."""
    publish = "SPUBLISH" if sharded else "PUBLISH"
    parts = [f"local PUBLISH = '{publish}'", *(_read(lib) for lib in _USES.get(name, ())), _read(name)]
    return "\n".join(parts)
