"""Where published photos are kept: a small interface, with files under the data dir (a bucket can come later)."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from pathlib import Path
from typing import Protocol

#: ``<hash>-<side>.<ext>`` as server/media.py names renditions; nothing else is ever read back.
NAME = re.compile(r"[0-9a-f]{24}-[0-9]{2,5}\.(?:jpg|png)")
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png"}


class MediaStorage(Protocol):
    """Stores renditions by event and name; names are content hashes, so a put of an existing name is a no-op."""

    async def put(self, event: str, name: str, body: bytes) -> None: ...

    async def get(self, event: str, name: str) -> bytes | None: ...


class DiskStorage:
    """Files at ``<root>/<event>/<name>``, written whole (temporary file, then rename) so no reader sees half."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, event: str, name: str) -> Path:
        if not NAME.fullmatch(name):
            raise ValueError(f"not a media name: {name!r}")
        return self.root / event / name

    async def put(self, event: str, name: str, body: bytes) -> None:
        await asyncio.to_thread(self._write, self._path(event, name), body)

    async def get(self, event: str, name: str) -> bytes | None:
        if not NAME.fullmatch(name):
            return None
        return await asyncio.to_thread(self._read, self._path(event, name))

    @staticmethod
    def _write(path: Path, body: bytes) -> None:
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        with temporary.open("wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)

    @staticmethod
    def _read(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
