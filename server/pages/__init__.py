"""HTML pages, the Atom feed and static assets: Jinja2 templates (autoescaped) under templates/."""

from __future__ import annotations

import aiohttp_jinja2
import jinja2
from aiohttp import web

from server.pages import assets, atom, embed, post, reader, share
from server.pages.assets import asset, asset_url
from server.pages.context import PHASE_LABELS, base_url, json_script, load_event, not_found_page, path_day, render_page
from server.pages.headers import UPDATE_POLICY, csp, page_response

__all__ = [
    "UPDATE_POLICY",
    "asset",
    "asset_url",
    "base_url",
    "csp",
    "json_script",
    "load_event",
    "not_found_page",
    "page_response",
    "path_day",
    "render_page",
    "routes",
    "setup",
]

#: Every page route; none is part of the /api OpenAPI document.
routes = (reader.routes, embed.routes, share.routes, atom.routes, post.routes, assets.routes)


def setup(app: web.Application) -> None:
    """Give ``app`` the page templates: autoescaped, with ``asset_url`` and the ``json_script`` filter."""
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("server.pages", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals["asset_url"] = asset_url
    env.filters["json_script"] = json_script
    env.globals["phase_labels"] = PHASE_LABELS
    for table in routes:
        app.add_routes(table)
