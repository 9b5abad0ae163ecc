"""Who is asking: the client's address (through trusted proxies only) and whether its Origin may open a feed."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from urllib.parse import urlsplit

from aiohttp import web

from config.settings import Settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@functools.lru_cache(maxsize=16)
def networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    """Parsed CIDRs (settings are validated, so this never raises for them)."""
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def _address(text: str) -> Address | None:
    text = text.strip().strip('"')
    if text.startswith("["):  # Forwarded: for="[2001:db8::1]:4711"
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # 192.0.2.1:4711
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _forwarded_hops(request: web.Request) -> list[str]:
    """The addresses proxies recorded, nearest last: ``Forwarded`` for= values, else ``X-Forwarded-For``."""
    hops: list[str] = []
    for header in request.headers.getall("Forwarded", []):
        for element in header.split(","):
            for pair in element.split(";"):
                name, _, value = pair.strip().partition("=")
                if name.lower() == "for":
                    hops.append(value)
    if hops:
        return hops
    for header in request.headers.getall("X-Forwarded-For", []):
        hops.extend(part for part in header.split(",") if part.strip())
    return hops


def client_address(request: web.Request, settings: Settings) -> str:
    """The client's IP address: the peer's, or, while the peer is a trusted proxy, the hop it forwarded for.

    Only hops added by trusted proxies are believed: walking the chain from the nearest end, the first address
    not in ``trusted_proxies`` is the client (a client cannot spoof its way past a proxy that appends). A Unix
    socket peer is "local".
    """
    peer = _address(request.remote or "")
    if peer is None:
        return request.remote or "local"
    trusted = networks(settings.trusted_proxies)
    if not trusted:
        return str(peer)
    current = peer
    for hop in reversed(_forwarded_hops(request)):
        if not any(current in net for net in trusted):
            break
        parsed = _address(hop)
        if parsed is None:
            break
        current = parsed
    return str(current)


def address_in(address: str, cidrs: Sequence[str]) -> bool:
    """Whether ``address`` (from client_address) falls in one of ``cidrs``; "local" (a Unix socket) always does."""
    if address == "local":
        return True
    parsed = _address(address)
    return parsed is not None and any(parsed in net for net in networks(cidrs))


def _origin(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else url.strip().lower()


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def origin_allowed(request: web.Request, settings: Settings) -> bool:
    """Whether the request's Origin may open a feed (WebSocket or SSE).

    No Origin (not a browser) is allowed; otherwise the Origin must be ``public_url``'s, one of
    ``allowed_origins`` ("*" allows any), or, only while ``public_url`` is unset, the request's own origin when
    ``public_base`` trusts it (loopback, or the IP address the client connected to). The request's Host is
    never trusted otherwise: with DNS rebinding an attacker's page sends Host and Origin both ``evil.example``.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    allowed = {_origin(o) for o in settings.allowed_origins}
    if "*" in allowed:
        return True
    allowed.add(_origin(settings.base_url))
    allowed.add(_origin(public_base(request, settings)))
    return _origin(origin) in allowed


def public_base(request: web.Request, settings: Settings) -> str:
    """The base of the absolute URLs pages, feeds and photos carry (canonical links, Atom ids, JSON-LD, media).

    ``public_url`` when set. Without it, the request's own scheme and host only when that host is loopback or the
    IP address the client actually connected to (a phone on the venue's LAN); any other Host header is the
    client's word and could plant another site's address in a cached page, so ``http://<host>:<port>`` it is.
    """
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = urlsplit(f"//{request.host}").hostname
    sockname = request.transport.get_extra_info("sockname") if request.transport is not None else None
    local = str(sockname[0]) if isinstance(sockname, tuple) and sockname else None
    if host is not None and (host in LOOPBACK_HOSTS or host == local):
        return f"{request.scheme}://{request.host}"
    return settings.base_url
