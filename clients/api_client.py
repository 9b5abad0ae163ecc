"""Typed client for the Plenary HTTP API: every write carries an Idempotency-Key, kept by its retries."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TypeVar
from urllib.parse import quote

import aiohttp
from multidict import CIMultiDictProxy
from pydantic import BaseModel, ConfigDict, ValidationError

from server import models
from server.backoff import Backoff

logger = logging.getLogger(__name__)

TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
UNREACHABLE = 0  # the status of an ApiError raised when no HTTP answer came back

M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    """The server answered with a problem (RFC 9457), or could not be reached (``status`` 0).

    Attributes:
        status: the HTTP status, or 0 when there was no answer.
        problem: the problem document (``type``, ``title``, ``status``, ``detail``, maybe ``field``).
        retry_after: seconds the server asked us to wait (Retry-After), if it said.
    """

    def __init__(self, status: int, problem: Mapping[str, object], *, retry_after: float | None = None) -> None:
        self.status = status
        self.problem: dict[str, object] = dict(problem)
        self.retry_after = retry_after
        super().__init__(self.message)

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or self.problem.get("title") or f"HTTP {self.status}")

    @property
    def field(self) -> str | None:
        value = self.problem.get("field")
        return str(value) if value else None

    @property
    def message(self) -> str:
        """The detail, with the offending field and the status, for people."""
        where = f" (field: {self.field})" if self.field and self.field not in self.detail.split(":")[0] else ""
        status = f"{self.status} {self.problem.get('title') or ''}".strip() if self.status else "no answer"
        return f"{self.detail}{where} [{status}]"

    @property
    def is_transient(self) -> bool:
        """True when trying again later may succeed: no answer, rate limited, or a gateway/store outage."""
        return self.status == UNREACHABLE or self.status in TRANSIENT_STATUSES


# --- answers: the server's models, tolerant of fields added by later servers -------------------------


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Event(models.Event):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Session(models.Session):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Update(models.Update):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Token(models.TokenCreated):
    model_config = ConfigDict(frozen=True, extra="ignore")


class EventList(_Answer):
    events: list[Event]


class SessionList(_Answer):
    sessions: list[Session]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How requests are retried: the shared Backoff, bounded by count and by time.

    A Retry-After from the server is honoured (waited at least), unless it would overrun ``max_seconds``.
    """

    max_attempts: int = 6
    max_seconds: float = 30.0
    backoff: Backoff = field(default_factory=Backoff)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return self.backoff.delay(attempt, None if retry_after is None else min(retry_after, self.max_seconds))


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def _parse(model: type[M], data: object) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(UNREACHABLE, {"title": "Unexpected answer", "detail": f"the server's answer is not "
                                     f"a {model.__name__}: {exc.errors()[0]['msg']}"}) from exc  # fmt: skip


def _retryable(exc: ApiError, method: str, *, deduplicated: bool) -> bool:
    """Whether trying again is safe and may succeed (see ApiClient)."""
    if deduplicated:
        return exc.is_transient
    return exc.status in ((429, 502, 503, 504) if method == "GET" else (429, 503))


def _segment(value: str) -> str:
    return quote(value, safe="")


class ApiClient:
    """A session with one Plenary server. Use ``async with ApiClient(url, token) as api: ...``.

    Every method raises ApiError when the server answers with a problem, and ApiError with status 0 when
    the server cannot be reached. Every write sends an Idempotency-Key (a fresh one per call unless given) and
    each retry of it sends the same key. What is retried, waiting as Retry-After says or else backing off:
    update posts on any transient failure (the server adds a post at most once per key); reads on 429, 502, 503
    and 504; other writes on 429 and 503 (the server did not take them). A server that cannot be reached fails
    a read or an unposted write at once.
    """

    def __init__(self, url: str, token: str | None = None, *, retry: RetryPolicy | None = None,
                 timeout: float = 20.0, user_agent: str = "plenary-cli") -> None:  # fmt: skip
        self.url = url.rstrip("/")
        self.token = token
        self.retry = retry or RetryPolicy()
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 5.0))
        self._headers = {"User-Agent": user_agent, "Accept": "application/json, application/problem+json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ApiClient:
        self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _request(
        self, method: str, path: str, *, body: Mapping[str, object] | None = None,
        idempotency_key: str | None = None, deduplicated: bool = False,
    ) -> tuple[int, object, CIMultiDictProxy[str]]:  # fmt: skip
        """One call, retried as the class says; a write keeps one Idempotency-Key across its attempts.

        ``deduplicated``: the server applies this write at most once per key, so any transient failure is retried.
        At most ``retry.max_attempts`` attempts within ``retry.max_seconds`` (an attempt that starts in time may
        run a few seconds past it).

        Raises:
            ApiError: a permanent problem, or the last transient one when the retries are spent.
        """
        headers = {} if method == "GET" else {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            # no attempt may outlast the retry budget (but each gets a few seconds at least)
            budget = max(self.retry.max_seconds - (time.monotonic() - started), 3.0)
            try:
                return await self._exchange(method, path, body=body, headers=headers,
                                            timeout=min(self._timeout.total or budget, budget))  # fmt: skip
            except ApiError as exc:
                wait = self.retry.delay(attempt, exc.retry_after)
                spent = attempt >= self.retry.max_attempts or time.monotonic() - started + wait > self.retry.max_seconds
                if spent or not _retryable(exc, method, deduplicated=deduplicated):
                    raise
                what = "post" if deduplicated else f"{method} {path}"
                logger.warning("%s failed (%s); retrying in %.1f s%s", what, exc.message, wait,
                               "" if method == "GET" else " with the same Idempotency-Key")  # fmt: skip
                await asyncio.sleep(wait)

    async def _exchange(
        self, method: str, path: str, *, body: Mapping[str, object] | None,
        headers: Mapping[str, str], timeout: float,
    ) -> tuple[int, object, CIMultiDictProxy[str]]:  # fmt: skip
        """One HTTP exchange; returns (status, JSON body or None, headers) for a 2xx answer.

        Raises:
            ApiError: a 4xx/5xx answer (its problem document), or no answer at all (status 0).
        """
        if self._session is None:
            raise RuntimeError("use 'async with ApiClient(...)'")
        limit = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 5.0))
        try:
            async with self._session.request(method, self.url + path, json=body, headers=headers,
                                             timeout=limit) as response:  # fmt: skip
                raw = await response.read()
                status, answer_headers = response.status, response.headers
                content_type, reason = response.content_type, response.reason
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            lost = {"title": "Unreachable", "detail": f"cannot reach {self.url}: {reason}"}
            raise ApiError(UNREACHABLE, lost) from exc
        data: object = None
        if raw and content_type in ("application/json", "application/problem+json"):
            try:
                data = json.loads(raw)
            except ValueError:
                data = None
        if status >= 400:
            if isinstance(data, dict) and "detail" in data:
                problem: dict[str, object] = {str(k): v for k, v in data.items()}
            else:
                text = raw.decode(errors="replace").strip()[:300]
                problem = {"title": reason or "Error", "status": status, "detail": text or f"HTTP {status}"}
            raise ApiError(status, problem, retry_after=parse_retry_after(answer_headers.get("Retry-After")))
        return status, data, answer_headers

    # --- service ----------------------------------------------------------------------------------

    # --- tokens -----------------------------------------------------------------------------------

    async def create_token(self, name: str, role: str, events: list[str]) -> Token:
        """Create a token (admin); the answer carries the secret, shown only this once."""
        _, data, _ = await self._request("POST", "/api/tokens", body={"name": name, "role": role, "events": events})
        return _parse(Token, data)

    async def revoke_token(self, name: str) -> None:
        """Revoke a token by name (admin); it stops working at once."""
        await self._request("DELETE", f"/api/tokens/{_segment(name)}")

    # --- events and sessions ----------------------------------------------------------------------

    async def create_event(self, body: Mapping[str, object]) -> Event:
        _, data, _ = await self._request("POST", "/api/events", body=body)
        return _parse(Event, data)

    async def get_event(self, event: str) -> Event:
        _, data, _ = await self._request("GET", f"/api/events/{_segment(event)}")
        return _parse(Event, data)

    async def list_events(self) -> list[Event]:
        _, data, _ = await self._request("GET", "/api/events")
        return _parse(EventList, data).events

    async def put_session(self, event: str, session: str, body: Mapping[str, object]) -> tuple[Session, bool]:
        """Create or replace a session; returns it and whether it was created (201) rather than replaced."""
        status, data, _ = await self._request("PUT", f"/api/events/{_segment(event)}/sessions/{_segment(session)}",
                                              body=body)  # fmt: skip
        return _parse(Session, data), status == 201

    async def list_sessions(self, event: str, day: dt.date | None = None) -> list[Session]:
        query = f"?day={day.isoformat()}" if day else ""
        _, data, _ = await self._request("GET", f"/api/events/{_segment(event)}/sessions{query}")
        return _parse(SessionList, data).sessions

    # --- updates ----------------------------------------------------------------------------------

    async def post_update(
        self, event: str, body: Mapping[str, object], *, idempotency_key: str | None = None
    ) -> Update:
        """Post an update; 201 means it is durable. Retried on any transient failure with the same key.

        Raises:
            ApiError: a permanent problem, or the last transient one when the retries are spent.
        """
        _, data, _ = await self._request("POST", f"/api/events/{_segment(event)}/updates", body=body,
                                         idempotency_key=idempotency_key, deduplicated=True)  # fmt: skip
        return _parse(Update, data)

    async def edit_update(self, event: str, update: str, changes: Mapping[str, object]) -> Update:
        """Change some fields of an update (its author or an editor); the answer has ``version`` + 1."""
        _, data, _ = await self._request("PATCH", f"/api/events/{_segment(event)}/updates/{_segment(update)}",
                                         body=changes)  # fmt: skip
        return _parse(Update, data)

    async def delete_update(self, event: str, update: str) -> None:
        await self._request("DELETE", f"/api/events/{_segment(event)}/updates/{_segment(update)}")

    # --- reflections ------------------------------------------------------------------------------

    def _reflections(self, event: str, day: dt.date) -> str:
        return f"/api/events/{event}/days/{day.isoformat()}/reflections"

    async def compile_reflections(self, event: str, day: dt.date, *, replace: bool = False) -> dict[str, object]:
        """Queue a compile of the day's draft; ApiError 409 when an editor edited it and not ``replace``."""
        _, data, _ = await self._request("POST", self._reflections(event, day), body={"replace": replace})
        return dict(data) if isinstance(data, dict) else {}

    async def get_reflections(self, event: str, day: dt.date) -> dict[str, object]:
        """The day's post: the draft for an editor's token, else the published post."""
        _, data, _ = await self._request("GET", self._reflections(event, day))
        return dict(data) if isinstance(data, dict) else {}

    async def save_reflections(self, event: str, day: dt.date, markdown: str, version: int,
                               title: str | None = None) -> dict[str, object]:  # fmt: skip
        """Save an edited draft read at ``version``; ApiError 409 when someone saved a newer one."""
        body: dict[str, object] = {"markdown": markdown, "version": version}
        if title:
            body["title"] = title
        _, data, _ = await self._request("PUT", self._reflections(event, day), body=body)
        return dict(data) if isinstance(data, dict) else {}

    async def publish_reflections(self, event: str, day: dt.date) -> dict[str, object]:
        _, data, _ = await self._request("POST", self._reflections(event, day) + "/publish")
        return dict(data) if isinstance(data, dict) else {}
