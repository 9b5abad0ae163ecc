"""Tokens: create (shown once), revoke, and the audit of both."""

from __future__ import annotations

from aiohttp import web

from server.api import Routes
from server.appkeys import SETTINGS, STORE
from server.auth import digest, new_token, require
from server.errors import NotFound
from server.middleware import read_body
from server.models import Role, TokenAudit, TokenCreate, TokenCreated, TokenInfo

routes = Routes()


@routes.route("POST", "/api/tokens", "Create a token; the secret is in this answer only", who="admin",
              body=TokenCreate, response=TokenCreated, status=201, errors=(401, 403, 409, 422))  # fmt: skip
async def create_token(request: web.Request) -> web.Response:
    who = await require(request, Role.ADMIN)
    body = await read_body(request, TokenCreate)
    token = new_token()
    info = TokenInfo(name=body.name, role=body.role, events=body.events, expires_at=body.expires_at)
    await request.app[STORE].create_token(info, digest(token), by=who.name)
    created = TokenCreated(token=token, **info.model_dump())
    return web.json_response(created.model_dump(mode="json"), status=201, headers={"Cache-Control": "no-store"})


@routes.route("DELETE", "/api/tokens/{name}", "Revoke a token at once, on every server; 'admin' also revokes "
              "the admin_token setting's token", who="admin", status=204, errors=(401, 403, 404))  # fmt: skip
async def revoke_token(request: web.Request) -> web.Response:
    who = await require(request, Role.ADMIN)
    name = request.match_info["name"]
    store = request.app[STORE]
    revoked = await store.revoke_token(name, by=who.name)
    configured = request.app[SETTINGS].admin_token
    if name == "admin" and configured:
        # The setting cannot be unset from here: its digest is recorded as revoked, for every process.
        revoked = await store.revoke_setting(digest(configured), by=who.name) or revoked
    if not revoked:
        raise NotFound(f"no token named {name!r}")
    return web.Response(status=204)


# Not under /api/tokens/: that path is DELETE /api/tokens/{name} for a token named "audit".
@routes.route("GET", "/api/audit/tokens", "The last 1000 token creations and revocations, oldest first",
              who="admin", response=TokenAudit, errors=(401, 403))  # fmt: skip
async def token_audit(request: web.Request) -> web.Response:
    await require(request, Role.ADMIN)
    entries = await request.app[STORE].token_audit(1000)
    body = TokenAudit(entries=entries)
    return web.json_response(body.model_dump(mode="json"), headers={"Cache-Control": "no-store"})
