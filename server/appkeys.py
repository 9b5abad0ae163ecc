"""The typed application keys shared by handlers and contexts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from config.settings import Settings

if TYPE_CHECKING:
    from server.feed.hub import Hub
    from server.jobs import JobQueue
    from server.media_store import MediaStorage
    from server.reflections_store import Reflections
    from server.store import Store

SETTINGS = web.AppKey("settings", Settings)
STORE: web.AppKey[Store] = web.AppKey("store")
REFLECTIONS: web.AppKey[Reflections] = web.AppKey("reflections")
QUEUE: web.AppKey[JobQueue] = web.AppKey("queue")
HUB: web.AppKey[Hub] = web.AppKey("hub")
MEDIA: web.AppKey[MediaStorage] = web.AppKey("media")
