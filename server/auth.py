"""Tokens: generation, hashing, constant-time checks; the Actor of a request and its permissions."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from aiohttp import web

from server.appkeys import SETTINGS, STORE
from server.errors import Forbidden, Unauthorized
from server.models import Role

TOKEN_BYTES = 24  # 192 bits


def new_token() -> str:
    """A fresh random token, shown once to its owner."""
    return "pln_" + secrets.token_urlsafe(TOKEN_BYTES)


def digest(token: str) -> str:
    """SHA-256 of a token, the only form in which it is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is making a request, and where they may act: ``id`` owns updates, ``name`` is the byline."""

    id: str
    name: str
    role: Role
    events: frozenset[str] = field(default_factory=frozenset)

    def can_access(self, event: str) -> bool:
        return self.role is Role.ADMIN or event in self.events

    def at_least(self, role: Role) -> bool:
        order = (Role.REPORTER, Role.EDITOR, Role.ADMIN)
        return order.index(self.role) >= order.index(role)


_ACTOR: web.RequestKey[Actor | None] = web.RequestKey("actor")


async def authenticate(request: web.Request) -> Actor | None:
    """The actor named by the request's bearer token; None when there is no Authorization header.

    Raises:
        Unauthorized: a malformed, unknown or revoked token.
    """
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("use 'Authorization: Bearer <token>'")
    wanted = digest(token)
    configured = request.app[SETTINGS].admin_token
    store = request.app[STORE]
    if configured and hmac.compare_digest(wanted, digest(configured)):
        if await store.is_revoked_setting(wanted):
            raise Unauthorized("unknown or revoked token")
        return Actor("admin", "admin", Role.ADMIN)
    info = await store.token_by_digest(wanted)  # looked up by the digest: no compare needed
    if info is None:
        raise Unauthorized("unknown or revoked token")
    if info.expired():
        raise Unauthorized("this token has expired")
    return Actor(info.id, info.name, info.role, frozenset(info.events))


async def actor(request: web.Request) -> Actor | None:
    """The request's actor, authenticated once per request."""
    if _ACTOR not in request:
        request[_ACTOR] = await authenticate(request)
    found: Actor | None = request[_ACTOR]
    return found


async def require(request: web.Request, role: Role, event: str | None = None) -> Actor:
    """The request's actor, if it has at least ``role`` (within ``event`` when given).

    Raises:
        Unauthorized: no token.
        Forbidden: the token's role or events do not allow this.
    """
    who = await actor(request)
    if who is None:
        raise Unauthorized("this needs a token: 'Authorization: Bearer <token>'")
    if not who.at_least(role):
        raise Forbidden(f"this needs the {role} role; the token {who.name!r} is a {who.role}")
    if event is not None and not who.can_access(event):
        raise Forbidden(f"the token {who.name!r} is not allowed on event {event!r}")
    return who
