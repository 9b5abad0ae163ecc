"""docker-compose.yml stays honest: its plenary commands parse, its store is durable, its checks exist.

There is no Docker engine in CI; the same processes run directly in test_cli.py.
"""

from __future__ import annotations

from typing import Any

import click
import pytest
import yaml

from clients.cli import cli

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


def test_services(services: dict[str, Any]) -> None:
    assert set(services) == {"redis", "server", "worker"}


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
    assert "8080:8080" in services["server"]["ports"]
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
