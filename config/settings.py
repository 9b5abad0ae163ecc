"""Settings: defaults.toml, then a --config file, then PLENARY_* environment variables."""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

ENV_PREFIX = "PLENARY_"
_SECRETS = ("admin_token", "redis_url")
_LISTS = ("allowed_origins", "trusted_proxies", "metrics_allow")  # comma-separated in PLENARY_* variables


def _cidr(value: str) -> str:
    ipaddress.ip_network(value, strict=False)  # ValueError names the bad network
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]


class Settings(BaseModel):
    """The one typed settings object; every field has its default and help in defaults.toml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str = ""
    redis_url: str = ""
    redis_prefix: str = "plenary"
    data_dir: Path = Path("var")
    admin_token: str = ""
    require_durable_store: bool = True
    waitaof_timeout_ms: int = Field(1000, ge=1)
    redis_timeout: float = Field(2.0, gt=0)
    max_body_bytes: int = Field(65536, ge=1024)
    log_max_entries: int = Field(100000, ge=100)
    idempotency_hours: int = Field(24, ge=1)
    allowed_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[Cidr, ...] = ()
    metrics_allow: tuple[Cidr, ...] = ("127.0.0.0/8", "::1/128")
    keepalive_seconds: float = Field(20.0, gt=0, le=3600)
    reader_buffer_messages: int = Field(256, ge=1)
    reader_buffer_bytes: int = Field(1048576, ge=1024)
    resume_cache_messages: int = Field(1000, ge=0)
    dispatch_chunk_writes: int = Field(256, ge=1)
    freeze_heap: bool = True
    ws_max_message_bytes: int = Field(4096, ge=128)
    max_connections_per_address: int = Field(20000, ge=1)
    reader_count_seconds: float = Field(5.0, gt=0)
    log_level: str = "INFO"
    log_format: str = "text"
    run_worker: bool = True
    compile_at: str = Field("", pattern=r"^$|^([01]\d|2[0-3]):[0-5]\d$")
    compile_delay_minutes: int = Field(60, ge=0)
    session_word_budget: int = Field(220, ge=20)
    processes: int = Field(1, ge=1)

    @property
    def base_url(self) -> str:
        """Public URL of this server, without a trailing slash."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    def masked(self) -> dict[str, Any]:
        """Effective settings as plain data, secrets replaced by '***' (passwords in URLs too)."""
        data = self.model_dump(mode="json")
        if data["admin_token"]:
            data["admin_token"] = "***"
        url = data["redis_url"]
        if "@" in url:
            scheme, _, rest = url.partition("://")
            data["redis_url"] = f"{scheme}://***@{rest.rpartition('@')[2]}"
        return data


def _defaults() -> dict[str, Any]:
    text = resources.files("config").joinpath("defaults.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """PLENARY_REDIS_URL sets redis_url; values that parse as JSON (numbers, lists, booleans) are parsed."""
    out: dict[str, Any] = {}
    for name in Settings.model_fields:
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is None:
            continue
        if name in _LISTS:
            out[name] = [o.strip() for o in raw.split(",") if o.strip()]
        elif Settings.model_fields[name].annotation in (str, Path):
            out[name] = raw
        else:
            try:
                out[name] = json.loads(raw)
            except ValueError:
                out[name] = raw
    return out


def load_settings(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Layer defaults.toml, the optional config file, PLENARY_* variables and explicit overrides (flags).

    Raises:
        FileNotFoundError: the config file does not exist.
        pydantic.ValidationError: a value has the wrong type or an unknown name.
    """
    data = _defaults()
    if config_file is not None:
        data.update(tomllib.loads(Path(config_file).read_text(encoding="utf-8")))
    data.update(_from_env(os.environ if environ is None else environ))
    data.update({k: v for k, v in overrides.items() if v is not None})
    return Settings.model_validate(data)
