"""The documents agree with the code: openapi.json, API.md and the generated defaults.toml."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from config.settings import defaults_toml, load_settings

ROOT = Path(__file__).resolve().parent.parent
API_MD = ROOT.parent / "shared" / "API.md"


def _route_paths(app: Any) -> set[tuple[str, str]]:
    out = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if path and route.method != "HEAD":
            out.add((route.method, path))
    return out


async def test_every_api_route_is_in_openapi(client: Any) -> None:
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    doc = await response.json()
    assert doc["openapi"].startswith("3.1")
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    api_routes = {(m, p) for m, p in _route_paths(client.app) if p.startswith("/api/")}
    assert api_routes, "no /api routes found"
    assert api_routes <= documented, api_routes - documented
    post = doc["paths"]["/api/events/{event}/updates"]["post"]
    schema_ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["text"]["maxLength"] == 10_000


def test_api_md_routes_are_served(make_app: Any) -> None:
    if not API_MD.exists():  # CI lays shared/ beside the clone; a clone elsewhere may not have it
        if os.environ.get("CI"):
            pytest.fail("the contract ../shared/API.md must be beside the repository")
        pytest.skip(
            "contract test: ../shared/API.md is not beside this clone; enable with: bash .ci/run (in a "
            "checkout laid beside shared/, as CI's is)"
        )
    text = API_MD.read_text()
    served = {(m, p) for m, p in _route_paths(make_app())}
    wanted = re.findall(r"^\| (GET|POST|PUT|PATCH|DELETE) (/\S+)", text, flags=re.M)
    assert wanted, "no routes found in API.md"
    for method, path in wanted:
        assert (method, path.split("?")[0]) in served, (method, path)
    multi = re.findall(r"^\| GET (/\S+) · GET (/\S+)", text, flags=re.M)
    for pair in multi:
        for path in pair:
            assert ("GET", path) in served


def test_defaults_toml_is_generated_from_the_model() -> None:
    """Drift fails here: after changing a setting in config/settings.py, run `make defaults`."""
    text = (ROOT / "config" / "defaults.toml").read_text()
    assert text == defaults_toml(), "config/defaults.toml is stale: run `make defaults`"
    assert load_settings(ROOT / "config" / "defaults.toml", environ={}) == load_settings(environ={})


def test_config_defaults_command_prints_the_file() -> None:
    result = subprocess.run([sys.executable, "-m", "clients.cli", "config", "--defaults"], cwd=ROOT,
                            capture_output=True, text=True, timeout=30, check=True)  # fmt: skip
    values = tomllib.loads(result.stdout)
    assert values["port"] == 8080 and values["metrics_allow"] == ["127.0.0.0/8", "::1/128"]
    assert "# Port the HTTP server listens on." in result.stdout.splitlines()
