"""Settings: one typed model (pydantic-settings) layered as defaults, a --config TOML file, PLENARY_* variables, flags.

config/defaults.toml is generated from this model (`make defaults`; a test fails when they drift), so a setting's
default and its help line are written once, here.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings.sources.utils import parse_env_vars

ENV_PREFIX = "PLENARY_"
SECRETS = ("admin_token", "redis_url")


def _cidr(value: str) -> str:
    ipaddress.ip_network(value, strict=False)  # ValueError names the bad network
    return value


def _comma_list(value: Any) -> Any:
    """A list setting given as one string (a PLENARY_* variable) is comma-separated: "a, b" is ("a", "b")."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]
CommaList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_comma_list)]
CidrList = Annotated[tuple[Cidr, ...], NoDecode, BeforeValidator(_comma_list)]
_ORIGIN = re.compile(r"https?://(?:(?:\*\.)?[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?")


def _origin(value: str) -> str:
    if not _ORIGIN.fullmatch(value):
        raise ValueError(f"{value!r} is not an origin such as https://news.example or https://*.example.com")
    return value


#: Origins allowed to frame the embed (CSP frame-ancestors sources: scheme, host or *.host, optional port).
OriginList = Annotated[tuple[Annotated[str, AfterValidator(_origin)], ...], NoDecode, BeforeValidator(_comma_list)]


class Settings(BaseSettings):
    """The one typed settings object: each field's default and description are the documentation too.

    Constructing it takes only the keyword arguments given (tests build it directly); `load_settings` adds
    the config file and the environment.
    """

    model_config = SettingsConfigDict(frozen=True, extra="forbid", env_prefix=ENV_PREFIX)

    host: str = Field("127.0.0.1", description="Address the HTTP server listens on.")
    port: int = Field(8080, ge=0, le=65535, description="Port the HTTP server listens on.")
    public_url: str = Field(
        "",
        description="Public base URL printed at start-up and used in feeds; empty means http://host:port.",
    )
    media_origin: str = Field(
        "",
        pattern=r"^$|^https?://[A-Za-z0-9.-]{1,253}(:\d{1,5})?$",
        description="Origin (scheme://host[:port]) of update images besides https: ones, allowed by pages' CSP.",
    )
    redis_url: str = Field(
        "",
        description="Redis URL (redis://, rediss:// or unix://); empty starts the embedded Valkey in data_dir.",
    )
    redis_prefix: str = Field(
        "plenary",
        description="Prefix of every Redis key and channel, so several deployments can share one Redis.",
    )
    data_dir: Path = Field(
        Path("var"),
        description="Directory for the embedded store's append-only file and other local state.",
    )
    admin_token: str = Field(
        "",
        description="Admin token (secret); empty means tokens are kept in Redis and the first start creates one.",
    )
    redis_cluster: bool = Field(
        False, description="redis_url names any seed node of a Redis Cluster (keys of one event share a slot)."
    )
    require_durable_store: bool = Field(
        True,
        description="Refuse to start when the store could lose acknowledged writes; false only warns loudly.",
    )
    waitaof_timeout_ms: int = Field(
        1000,
        ge=1,
        description="Milliseconds to wait for WAITAOF on a Redis that fsyncs lazily (keep it under redis_timeout).",
    )
    redis_timeout: float = Field(
        2.0, gt=0, description="Seconds a Redis command may take before the API answers 503 (a write: outcome-unknown)."
    )
    max_body_bytes: int = Field(65536, ge=1024, description="Largest request body in bytes.")
    idle_timeout_seconds: float = Field(
        15.0,
        gt=0,
        description="Seconds an idle connection, or one still sending its request line and headers, is kept open.",
    )
    max_header_bytes: int = Field(
        8190, ge=1024, description="Longest request line or header line, in bytes (longer: 400)."
    )
    max_headers: int = Field(64, ge=16, description="Most header lines a request may have (more: 400).")
    log_max_entries: int = Field(
        100000,
        ge=100,
        description=(
            "Entries kept in each event's log (older ones are trimmed; readers resuming before them get resync)."
        ),
    )
    idempotency_hours: int = Field(24, ge=1, description="Hours an Idempotency-Key is remembered.")
    allowed_origins: CommaList = Field(
        (),
        description='Origins allowed to open WebSocket and SSE feeds, besides public_url\'s ("*": any).',
    )
    trusted_proxies: CidrList = Field(
        (),
        description=(
            "Reverse proxies (CIDRs) whose Forwarded / X-Forwarded-For is believed for the client's address; none by "
            "default."
        ),
    )
    metrics_allow: CidrList = Field(
        ("127.0.0.0/8", "::1/128"),
        description="Client networks (CIDRs) that may read /metrics without the admin token.",
    )
    embed_origins: OriginList = Field(
        (),
        description="Origins of news sites that may frame the live blog's embed page (/events/{event}/embed).",
    )
    publisher_name: str = Field(
        "", description="The publisher named in pages' JSON-LD and Open Graph tags (empty: the event's blog title)."
    )
    publisher_logo_url: str = Field("", description="Absolute URL of the publisher's logo for JSON-LD (empty: none).")
    media_max_bytes: int = Field(
        26214400, ge=1024, description="Largest photo upload in bytes (POST /api/events/{event}/media); 25 MB."
    )
    media_uploads_per_minute: int = Field(
        30, ge=1, description="Photo uploads one token may make per minute (more are answered 429 with Retry-After)."
    )
    keepalive_seconds: float = Field(
        20.0,
        gt=0,
        le=3600,
        description=(
            "Seconds between WebSocket pings and SSE comments to each reader (spread over the period; at most 3600)."
        ),
    )
    reader_buffer_messages: int = Field(
        256,
        ge=1,
        description=(
            "Live messages held for a reader while it catches up from the log; past that it reads the log again."
        ),
    )
    reader_buffer_bytes: int = Field(
        1048576,
        ge=1024,
        description="Bytes queued for one reader before it is cut off (transport write buffer).",
    )
    resume_cache_messages: int = Field(
        1000,
        ge=0,
        description=(
            "Latest messages each server process keeps per followed event, so readers resuming with after= skip the "
            "log."
        ),
    )
    resume_max_messages: int = Field(
        5000,
        ge=1,
        description='Most messages one resume may replay; a reader further behind gets {"type": "resync"} instead.',
    )
    catch_up_seconds: float = Field(
        10.0,
        gt=0,
        description="Seconds a reader's catch-up (log reads and its writes) may take; then it is cut (4008).",
    )
    dispatch_chunk_writes: int = Field(
        256,
        ge=1,
        description=(
            "Live writes per event-loop step when fanning a message out; between chunks posts and pub/sub are served."
        ),
    )
    freeze_heap: bool = Field(
        True,
        description=(
            "Freeze what survives each full garbage collection, so later ones skip it; collect everything once as "
            "many readers have left as were connected (at least 1,000), and hourly (server/heap.py). Off: CPython's "
            "own schedule, with pauses that grow with readers."
        ),
    )
    ws_max_message_bytes: int = Field(
        4096,
        ge=128,
        description="Largest message a WebSocket client may send, in bytes.",
    )
    max_connections_per_address: int = Field(
        200,
        ge=1,
        description="Concurrent feed connections from one client address, across every server process (429 beyond).",
    )
    max_feeds_per_process: int = Field(
        20000,
        ge=1,
        description="Live feeds one server process holds at most; a feed beyond it is answered 503 with Retry-After.",
    )
    rate_limits: bool = Field(
        True,
        description="Rate limits kept in Redis, shared by all processes (429 with Retry-After); false turns them off.",
    )
    write_rate: float = Field(5.0, gt=0, description="API writes (POST, PUT, PATCH, DELETE) per token, per second.")
    write_burst: int = Field(30, ge=1, description="API writes a token that was quiet may make at once.")
    read_rate: float = Field(
        20.0,
        gt=0,
        description="Reads and pages (the API's GETs, reader pages, Atom, desks) per client address, per second.",
    )
    read_burst: int = Field(100, ge=1, description="Reads an address that was quiet may make at once.")
    feed_rate: float = Field(
        10.0, gt=0, description="New feed connections (WebSocket and SSE) per client address, per second."
    )
    feed_burst: int = Field(50, ge=1, description="New feed connections an address that was quiet may open at once.")
    reader_count_seconds: float = Field(
        5.0,
        gt=0,
        description=(
            "Seconds between refreshes of this process's live reader counts in the store (they expire after 3 missed)."
        ),
    )
    log_level: str = Field("INFO", description="Log level: DEBUG, INFO, WARNING or ERROR.")
    log_format: str = Field("text", description="Log format: text or json (one object a line, with request ids).")
    drain_seconds: float = Field(
        0.0,
        ge=0,
        le=300,
        description="Seconds a process keeps serving after SIGTERM "
        "with /readyz answering 503, so load balancers stop sending it requests first.",
    )
    run_worker: bool = Field(
        True,
        description="Run the reflections worker inside `plenary serve` (the embedded default).",
    )
    compile_at: str = Field(
        "",
        pattern=r"^$|^([01]\d|2[0-3]):[0-5]\d$",
        description=(
            "Compile each day's reflections automatically at this local time (\"HH:MM\", event's time zone); empty: "
            "use the delay."
        ),
    )
    compile_delay_minutes: int = Field(
        60,
        ge=0,
        description=(
            "Minutes after a day's last session ends (18:00 local when it has none) to compile its reflections."
        ),
    )
    session_word_budget: int = Field(
        220,
        ge=20,
        description="Word budget for one session's prose in the reflections post.",
    )
    processes: int = Field(1, ge=1, description="Server processes started by `plenary serve` (SO_REUSEPORT).")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)

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


class _Environment(EnvSettingsSource):
    """PLENARY_* variables from a given mapping (the process environment unless a test passes its own)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


def load_settings(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Layer the model's defaults, the optional config file, PLENARY_* variables and explicit overrides (flags).

    Raises:
        FileNotFoundError: the config file does not exist.
        pydantic.ValidationError: a value has the wrong type or an unknown name.
    """
    data: dict[str, Any] = {}
    if config_file is not None:
        if not Path(config_file).is_file():
            raise FileNotFoundError(f"no config file {config_file}")
        data.update(TomlConfigSettingsSource(Settings, Path(config_file))())
    data.update(_Environment(Settings, os.environ if environ is None else environ)())
    data.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**data)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string


def defaults_toml() -> str:
    """config/defaults.toml: every setting with its description as help and its default, in model order."""
    lines = [
        "# Plenary defaults. Override with `plenary serve --config FILE` or PLENARY_<NAME> environment variables.",
        "# Generated from config/settings.py by `make defaults` (plenary config --defaults): edit the model, not this.",
    ]
    lines.append("")
    for name, field in Settings.model_fields.items():
        if not field.description:
            raise ValueError(f"setting {name} has no description= in config/settings.py")
        lines.extend(textwrap.wrap(field.description, 118, initial_indent="# ", subsequent_indent="# "))
        lines.append(f"{name} = {_toml_value(field.get_default(call_default_factory=True))}")
    return "\n".join(lines) + "\n"
