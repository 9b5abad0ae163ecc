"""Settings layering: defaults, then a config file, then PLENARY_* variables, then flags."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from config.settings import load_settings


def test_layers_in_order(tmp_path: Path) -> None:
    config = tmp_path / "plenary.toml"
    config.write_text('port = 9000\nredis_prefix = "from-file"\nallowed_origins = ["https://a.example"]\n')
    env = {"PLENARY_REDIS_PREFIX": "from-env", "PLENARY_REQUIRE_DURABLE_STORE": "false",
           "PLENARY_ALLOWED_ORIGINS": "https://b.example, https://c.example"}  # fmt: skip
    settings = load_settings(config, environ=env, host="0.0.0.0")
    assert settings.port == 9000
    assert settings.redis_prefix == "from-env"
    assert settings.require_durable_store is False
    assert settings.allowed_origins == ("https://b.example", "https://c.example")
    assert settings.host == "0.0.0.0"
    assert settings.base_url == "http://127.0.0.1:9000"
    defaults = load_settings(environ={})
    assert defaults.port == 8080 and defaults.redis_url == ""


def test_lists_from_a_file_and_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "plenary.toml"
    config.write_text('trusted_proxies = ["10.0.0.0/8"]\nmetrics_allow = []\n')
    settings = load_settings(config, environ={"PLENARY_ALLOWED_ORIGINS": ""})
    assert settings.trusted_proxies == ("10.0.0.0/8",) and settings.metrics_allow == ()
    assert settings.allowed_origins == ()
    settings = load_settings(environ={"PLENARY_TRUSTED_PROXIES": "10.0.0.0/8,192.168.1.0/24"})
    assert settings.trusted_proxies == ("10.0.0.0/8", "192.168.1.0/24")
    with pytest.raises(ValidationError, match="trusted_proxies"):
        load_settings(environ={"PLENARY_TRUSTED_PROXIES": "10.0.0.0/8, not-a-network"})


def test_config_command_masks_secrets() -> None:
    env = {**os.environ, "PLENARY_ADMIN_TOKEN": "s3cret", "PLENARY_REDIS_URL": "redis://u:pw@db:6379/0"}
    result = subprocess.run([sys.executable, "-m", "clients.cli", "config"], env=env, capture_output=True,
                            text=True, timeout=30, check=True)  # fmt: skip
    shown = json.loads(result.stdout)
    assert shown["admin_token"] == "***" and shown["redis_url"] == "redis://***@db:6379/0"
    assert "s3cret" not in result.stdout and "pw" not in result.stdout


def test_masked_hides_secrets() -> None:
    settings = load_settings(environ={"PLENARY_ADMIN_TOKEN": "s3cret", "PLENARY_REDIS_URL": "redis://u:pw@db:6379/0"})
    masked = settings.masked()
    assert masked["admin_token"] == "***"
    assert "pw" not in masked["redis_url"] and masked["redis_url"].endswith("db:6379/0")


def test_bad_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        load_settings(environ={"PLENARY_PORT": "eighty"})
    config = tmp_path / "typo.toml"
    config.write_text("prot = 80\n")
    with pytest.raises(ValidationError):
        load_settings(config, environ={})
    for keepalive in ("0", "inf", "3601"):  # the hub divides the period into one-second slots
        with pytest.raises(ValidationError):
            load_settings(environ={"PLENARY_KEEPALIVE_SECONDS": keepalive})
