"""The Content-Security-Policy and other headers every HTML page is sent with."""

from __future__ import annotations

import re
from collections.abc import Iterable

from aiohttp import web

from server.appkeys import SETTINGS

__all__ = ["UPDATE_POLICY", "csp", "page_response"]

#: reader.js's one Trusted Types policy: it inserts update HTML the server sanitised.
UPDATE_POLICY = "plenary-update"
_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}(?::\d{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](?::\d{1,5})?")


def csp(
    host: str | None = None,
    frame_ancestors: Iterable[str] = (),
    media_origin: str = "",
    trusted_types: str = UPDATE_POLICY,
) -> str:
    """The Content-Security-Policy of every HTML page: no inline script or style, no plugins, no framing.

    ``host`` (the request's Host) adds explicit ws:// and wss:// sources for browsers whose 'self' does not
    cover WebSockets; anything that is not a plain host[:port] is ignored. ``frame_ancestors`` are the origins
    allowed to frame the page (the embed only); without them no page can be framed. Images load over https
    only (no http:, no data:), plus ``media_origin`` (the setting; it may be an http origin of one's own).
    ``trusted_types`` names the Trusted Types policies a page may create (reader.js's, and the desks' own).
    """
    images = "'self' https:" + (f" {media_origin}" if media_origin else "")
    connect = "'self'"
    if host and _HOST.fullmatch(host):
        connect += f" ws://{host} wss://{host}"
    ancestors = " ".join(frame_ancestors) or "'none'"
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {images}",
            "font-src 'self'",
            f"connect-src {connect}",
            "manifest-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {ancestors}",
            "object-src 'none'",
            "require-trusted-types-for 'script'",
            f"trusted-types {trusted_types}",
        ]
    )


def page_response(
    request: web.Request,
    body: str,
    *,
    status: int = 200,
    frame_ancestors: tuple[str, ...] = (),
    trusted_types: str = UPDATE_POLICY,
) -> web.Response:
    """An HTML page with the strict CSP and the other headers pages carry (desk pages use this too).

    Only a page given ``frame_ancestors`` (the embed) may be framed, and only by those origins; it drops
    X-Frame-Options (which cannot name origins) and the opener policy (an embed has no opener to guard).
    """
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    media_origin = request.app[SETTINGS].media_origin
    response.headers["Content-Security-Policy"] = csp(request.host, frame_ancestors, media_origin, trusted_types)
    if not frame_ancestors:
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    response.headers["Cache-Control"] = "no-cache"
    return response
