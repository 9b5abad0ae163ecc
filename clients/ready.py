"""Wait for a freshly started server process to answer /readyz (the test fixtures and the benchmark start servers)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path


def wait_ready(port: int, server: subprocess.Popen[bytes], log: Path, *, timeout: float = 30.0,
               answers: int = 1) -> None:  # fmt: skip
    """Wait until a `python -m server` process on loopback ``port`` has answered /readyz with 200 ``answers``
    times (with SO_REUSEPORT, a few more give every process time to listen).

    Raises:
        RuntimeError: the process exited or did not get ready within ``timeout`` (with the end of ``log``).
    """
    deadline = time.monotonic() + timeout
    ready = 0
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"GET /readyz HTTP/1.0\r\n\r\n")
                if b" 200 " in sock.recv(64):
                    ready += 1
                    if ready >= answers:
                        return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the server did not get ready: {log.read_text(errors='replace')[-3000:]}")
