"""An asyncio TCP proxy for fault tests: adds latency, resets or cuts connections, or goes silent (half-open)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass


@dataclass(eq=False)
class _Pair:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter


class Proxy:
    """Forwards 127.0.0.1:<port> to ``upstream``; every knob applies to open and new connections at once.

    ``latency`` delays each chunk in both directions; ``silent`` drops every byte without closing anything (the
    peers see a half-open connection); ``reset()`` aborts every connection with a TCP RST, ``cut()`` closes them
    with a FIN.
    """

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.latency = 0.0
        self.silent = False
        self.accepted = 0
        self._pairs: set[_Pair] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            _abort(writer)
            return
        pair = _Pair(writer, up_writer)
        self._pairs.add(pair)
        for task in (asyncio.create_task(self._pump(reader, up_writer, pair)),
                     asyncio.create_task(self._pump(up_reader, writer, pair))):  # fmt: skip
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, pair: _Pair) -> None:
        try:
            while data := await source.read(65536):
                if self.latency:
                    await asyncio.sleep(self.latency)
                if self.silent:
                    continue
                sink.write(data)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._close(pair)

    def _close(self, pair: _Pair) -> None:
        if pair in self._pairs:
            self._pairs.discard(pair)
            pair.client.close()
            pair.upstream.close()

    def reset(self) -> int:
        """Abort every open connection with a RST on both sides; return how many there were."""
        pairs = list(self._pairs)
        for pair in pairs:
            self._pairs.discard(pair)
            _abort(pair.client)
            _abort(pair.upstream)
        return len(pairs)

    def cut(self) -> int:
        """Close every open connection (FIN on both sides); return how many there were."""
        pairs = list(self._pairs)
        for pair in pairs:
            self._close(pair)
        return len(pairs)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.reset()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _abort(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
