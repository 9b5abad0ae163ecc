"""make stack: Debian's nginx in front of two server processes, a worker and Valkey (AOF always), on loopback.

The same topology as docker-compose.yml (``TOPOLOGY``; tests/test_compose.py compares the two), run as the
current user: nginx gets the documented config/nginx.conf with its ``# stack:`` lines pointed at a temp dir and
the loopback ports.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from server.embedded import EmbeddedValkey

ROOT = Path(__file__).resolve().parent.parent
NGINX_CONF = ROOT / "config" / "nginx.conf"
NGINX = Path("/usr/sbin/nginx")
FAIL_TIMEOUT = 2.0  # nginx's fail_timeout in config/nginx.conf: how long a refusing process is skipped

# service -> (replicas, the services it depends on): what docker-compose.yml must mirror
TOPOLOGY: dict[str, tuple[int, frozenset[str]]] = {
    "nginx": (1, frozenset({"server"})),
    "server": (2, frozenset({"redis"})),
    "worker": (1, frozenset({"redis", "server"})),
    "redis": (1, frozenset()),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def render_nginx(text: str, *, listen: int, upstreams: list[int], run_dir: Path) -> str:
    """config/nginx.conf with its ``# stack:`` lines rewritten for ``run_dir`` and loopback ports."""
    out: list[str] = []
    upstream_done = False
    for line in text.splitlines():
        indent = line[: len(line) - len(line.lstrip())]
        mark = re.search(r"# stack: (\w+)", line)
        kind = mark.group(1) if mark else ""
        if kind == "pid":
            line = f"{indent}pid {run_dir / 'nginx.pid'};"
        elif kind == "error_log":
            line = f"{indent}error_log {run_dir / 'error.log'} warn;"
        elif kind == "access_log":
            line = f"{indent}access_log {run_dir / 'access.log'};"
        elif kind == "temp":
            name = line.split()[0]
            line = f"{indent}{name} {run_dir / name.removesuffix('_temp_path')};"
        elif kind == "listen":
            line = f"{indent}listen 127.0.0.1:{listen};"
        elif kind == "upstream":
            if upstream_done:
                continue
            upstream_done = True
            line = "\n".join(f"{indent}server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;" for port in upstreams)
        out.append(line)
    return "\n".join(out) + "\n"


def _wait_http(port: int, path: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    """Wait until 127.0.0.1:``port`` answers ``path`` with 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
                if b" 200 " in sock.recv(64):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{process.args!r} did not answer {path}: {log.read_text(errors='replace')[-3000:]}")


@dataclass
class Stack:
    """The running stack; ``stop`` ends every process it started (by its own handles), Valkey last."""

    data_dir: Path
    port: int = 8080
    admin_token: str = field(default_factory=lambda: os.environ.get("PLENARY_ADMIN_TOKEN") or secrets.token_hex(16))
    server_ports: list[int] = field(default_factory=list)
    servers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    worker: subprocess.Popen[bytes] | None = None
    nginx: subprocess.Popen[bytes] | None = None
    valkey: EmbeddedValkey | None = None
    redis_port: int = 0
    run_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="plenary-stack-")))
    env: dict[str, str] = field(default_factory=dict)  # more PLENARY_* settings for the servers and the worker

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def server_url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.server_ports[i]}"

    def _env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "PLENARY_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                "PLENARY_ADMIN_TOKEN": self.admin_token, "PLENARY_PUBLIC_URL": self.url,
                "PLENARY_TRUSTED_PROXIES": "127.0.0.1/32", "PLENARY_RUN_WORKER": "false",
                "PLENARY_DATA_DIR": str(self.data_dir), **self.env, **extra}  # fmt: skip

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.run_dir / f"{name}.log"
        with log.open("ab") as handle:
            process = subprocess.Popen(args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=handle,
                                       stderr=subprocess.STDOUT)  # fmt: skip
        return process, log

    def start(self) -> Stack:
        """Start Valkey, two servers, the worker and nginx; return when nginx answers /readyz."""
        try:
            self.redis_port = self.redis_port or free_port()
            self.valkey = EmbeddedValkey(self.data_dir / "valkey", extra_args=["--port", str(self.redis_port),
                                                                                "--bind", "127.0.0.1"])  # fmt: skip
            self.valkey.start()  # appendonly yes, appendfsync always
            for i in range(TOPOLOGY["server"][0]):
                self.server_ports.append(free_port())
                self.servers.append(self.start_server(i))
            self.worker, _ = self._spawn("worker", [sys.executable, "-m", "workers"], self._env())
            conf = self.run_dir / "nginx.conf"
            text = render_nginx(NGINX_CONF.read_text(encoding="utf-8"), listen=self.port,
                                upstreams=self.server_ports, run_dir=self.run_dir)  # fmt: skip
            conf.write_text(text, encoding="utf-8")
            args = [str(NGINX), "-p", str(self.run_dir), "-c", str(conf), "-e", str(self.run_dir / "error.log"),
                    "-g", "daemon off;"]  # fmt: skip
            self.nginx, log = self._spawn("nginx", args, dict(os.environ))
            _wait_http(self.port, "/readyz", self.nginx, log)
        except BaseException:
            self.stop()
            raise
        return self

    def start_server(self, i: int) -> subprocess.Popen[bytes]:
        """Start server ``i`` on its port and wait until it is ready."""
        port = self.server_ports[i]
        env = self._env(PLENARY_PORT=str(port), PLENARY_HOST="127.0.0.1")
        process, log = self._spawn(f"server{i}", [sys.executable, "-m", "server"], env)
        _wait_http(port, "/readyz", process, log)
        return process

    def restart_server(self, i: int, timeout: float = 20.0) -> None:
        """A rolling restart of server ``i``: SIGTERM (it drains and exits), start it again, and return once
        nginx sends it requests again.

        nginx skips a process that refused a connection for ``fail_timeout`` (2 s), and open-source nginx has no
        way to ask whether it still does: so this waits that long after the process is ready. Restarting the next
        process sooner leaves nginx with no live upstream (502) until the window ends.
        """
        process = self.servers[i]
        process.send_signal(signal.SIGTERM)
        process.wait(timeout)
        self.servers[i] = self.start_server(i)
        time.sleep(FAIL_TIMEOUT)

    def stop(self) -> None:
        processes = [self.nginx, *self.servers, self.worker]
        for process in processes:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            if process is not None:
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if self.valkey is not None:
            self.valkey.stop()
        shutil.rmtree(self.run_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clients.stack", description=__doc__)
    parser.add_argument("--port", type=int, default=8080, help="nginx's loopback port (default 8080)")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "var" / "stack", help="Valkey's AOF lives here")
    args = parser.parse_args(argv)
    stack = Stack(args.data_dir, port=args.port).start()
    print(f"Plenary stack: nginx {stack.url} -> servers {', '.join(map(str, stack.server_ports))}, worker, "
          f"Valkey 127.0.0.1:{stack.redis_port} (AOF in {args.data_dir})\n"
          f"    export PLENARY_URL={stack.url} PLENARY_TOKEN={stack.admin_token}\n"
          f"logs in {stack.run_dir}; Ctrl-C stops everything", flush=True)  # fmt: skip
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops the stack as Ctrl-C does
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
