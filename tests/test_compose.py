"""docker-compose.yml stays honest: its plenary commands parse, its store is durable, its checks exist.

There is no Docker engine in CI; the same processes run directly in test_cli.py.
"""

from __future__ import annotations

import subprocess
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


def test_dockerfile_is_slim_and_unprivileged() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()]
    assert "FROM python:3.11-slim" in lines
    assert any(line.startswith("RUN pip install .") for line in lines)
    assert "EXPOSE 8080" in lines
    user = [line for line in lines if line.startswith("USER ")]
    assert user and user[-1] != "USER root"
    sources = [path for line in lines if line.startswith("COPY ") for path in line.split()[1:-1]]
    assert "pyproject.toml" in sources and "clients" in sources
    for path in sources:
        assert (ROOT / path).exists(), path
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".venv" in ignored and "var" in ignored and ".git" in ignored


def test_readme_exists_for_the_image_build() -> None:
    """pyproject.toml names README.md as the readme, so `pip install .` in the image needs it."""
    assert (ROOT / "README.md").exists()
