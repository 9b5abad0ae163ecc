"""docker-compose.yml and the image stay honest: commands parse, the store is durable, the install ships what runs.

There is no Docker engine in CI; the same processes run directly in test_cli.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from clients.cli import cli
from clients.stack import NGINX, NGINX_CONF, TOPOLOGY, render_nginx

from conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    found: dict[str, Any] = data["services"]
    return found


def _parse(argv: list[str]) -> tuple[str, dict[str, Any]]:
    """The subcommand and its parameters as `plenary` parses them (click raises on anything it refuses)."""
    name, *rest = argv
    command = cli.get_command(click.Context(cli), name)
    assert command is not None, name
    return name, command.make_context(name, rest).params


def _command(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def test_services_mirror_the_stack(services: dict[str, Any]) -> None:
    """docker-compose.yml and `make stack` run the same services, replicas and dependencies."""
    graph = {name: (int(service.get("deploy", {}).get("replicas", 1)), frozenset(service.get("depends_on", ())))
             for name, service in services.items()}  # fmt: skip
    assert graph == TOPOLOGY


def test_nginx_uses_the_documented_config(services: dict[str, Any]) -> None:
    nginx = services["nginx"]
    assert "./config/nginx.conf:/plenary/nginx.conf:ro" in nginx["volumes"]
    assert "8080:8080" in nginx["ports"]
    script = nginx["command"][-1]
    conf = (ROOT / "config" / "nginx.conf").read_text(encoding="utf-8")
    assert "127.0.0.1:8081" in conf and "127.0.0.1:8082" in conf and "server:8080" in script


@pytest.mark.skipif(not NGINX.exists(), reason="Debian's nginx is not installed (.ci/run installs it)")
def test_nginx_accepts_the_rendered_config(tmp_path: Path) -> None:
    text = render_nginx(NGINX_CONF.read_text(encoding="utf-8"), listen=18080, upstreams=[18081, 18082],
                        run_dir=tmp_path)  # fmt: skip
    assert "server 127.0.0.1:18081" in text and "server 127.0.0.1:18082" in text and "/var/" not in text
    conf = tmp_path / "nginx.conf"
    conf.write_text(text, encoding="utf-8")
    result = subprocess.run([str(NGINX), "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "e.log")],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name, subcommand", [("server", "serve"), ("worker", "worker")])
def test_plenary_commands_parse(services: dict[str, Any], name: str, subcommand: str) -> None:
    program, *argv = _command(services[name])
    assert program == "plenary"
    command, params = _parse(argv)
    assert command == subcommand
    assert params["redis_url"] == "redis://redis:6379/0"


def test_server_listens_publicly_and_is_checked(services: dict[str, Any]) -> None:
    _, params = _parse(_command(services["server"])[1:])
    assert params["host"] == "0.0.0.0"
    assert "8080" in services["server"]["expose"]
    assert services["server"]["environment"]["PLENARY_TRUSTED_PROXIES"]
    assert any("/readyz" in part for part in services["server"]["healthcheck"]["test"])
    assert services["server"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["server"]["environment"]["PLENARY_RUN_WORKER"] == "false"  # the worker service does it


def test_redis_is_the_official_image_with_fsync_always(services: dict[str, Any]) -> None:
    redis = services["redis"]
    assert redis["image"].split(":")[0] in ("redis", "docker.io/library/redis")
    command = " ".join(_command(redis))
    assert command.startswith("redis-server") and "--appendonly yes" in command and "--appendfsync always" in command
    assert redis["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]


def _dockerfile() -> list[str]:
    return [line.strip() for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()]


def test_the_image_installs_from_what_it_copies(tmp_path: Path) -> None:
    """`RUN pip install .` on exactly the files the Dockerfile copies gives a wheel with every runtime file
    (pages, assets, defaults, scripts) and the `plenary` command, and without the benchmark or the tests."""
    build = tmp_path / "app"
    build.mkdir()
    for line in _dockerfile():
        if line.startswith("COPY "):
            *sources, dest = line.split()[1:]
            for source in sources:
                target = build / (dest if dest not in ("./", ".") else source)
                if (ROOT / source).is_dir():
                    shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy(ROOT / source, build / source)
    offline = ["--no-deps", "--no-build-isolation", "--no-index", "-q"]
    subprocess.run([sys.executable, "-m", "pip", "wheel", *offline, "-w", str(tmp_path / "dist"), str(build)],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("plenary-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
        entry_points = archive.read(next(name for name in shipped if name.endswith("entry_points.txt"))).decode()
    runtime = {str(path.relative_to(ROOT)) for package in ("server", "workers", "clients", "config")
               for path in (ROOT / package).rglob("*")
               if path.is_file() and "__pycache__" not in path.parts}  # fmt: skip
    assert runtime <= shipped, sorted(runtime - shipped)
    assert not {name for name in shipped if name.startswith(("bench/", "tests/"))}
    assert "plenary = clients.cli:main" in entry_points


def test_the_image_runs_plenary_serve_publicly() -> None:
    (cmd,) = [line for line in _dockerfile() if line.startswith("CMD ")]
    program, *argv = json.loads(cmd.removeprefix("CMD "))
    assert program == "plenary"
    command, params = _parse(argv)
    assert command == "serve" and params["host"] == "0.0.0.0"
