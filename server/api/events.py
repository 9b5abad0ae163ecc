"""Events and their sessions (the agenda)."""

from __future__ import annotations

from aiohttp import web

from server.api import Routes
from server.appkeys import STORE
from server.auth import require
from server.errors import Forbidden, Invalid
from server.middleware import read_body
from server.models import Event, EventCreate, EventList, EventView, Role, Session, SessionBody, SessionList
from server.params import parse_day, slug

routes = Routes()


@routes.route("POST", "/api/events", "Create an event", who="admin, editor", body=EventCreate,
              response=Event, status=201, errors=(401, 403, 409, 422))  # fmt: skip
async def create_event(request: web.Request) -> web.Response:
    who = await require(request, Role.EDITOR)
    body = await read_body(request, EventCreate)
    if who.role is not Role.ADMIN and body.id not in who.events:
        raise Forbidden(f"the token {who.name!r} may only create the events it lists", field="id")
    event = Event.from_create(body)
    await request.app[STORE].create_event(event)
    return web.json_response(event.model_dump(mode="json"), status=201)


@routes.route("GET", "/api/events", "List events", response=EventList)
async def list_events(request: web.Request) -> web.Response:
    events = await request.app[STORE].list_events()
    return web.json_response(EventList(events=events).model_dump(mode="json"))


@routes.route("GET", "/api/events/{event}", "One event with its days and its pinned update's id",
              response=EventView, errors=(404,))  # fmt: skip
async def get_event(request: web.Request) -> web.Response:
    store = request.app[STORE]
    event = await store.get_event(slug(request, "event"))
    view = EventView(**event.model_dump(exclude={"days"}), pinned=await store.pinned_id(event.id))
    return web.json_response(view.model_dump(mode="json"))


@routes.route("PUT", "/api/events/{event}/sessions/{session}", "Create or replace a session; broadcast",
              who="editor", body=SessionBody, response=Session, status=201, also=(200,),
              errors=(401, 403, 404, 422))  # fmt: skip
async def put_session(request: web.Request) -> web.Response:
    event_id, session_id = slug(request, "event"), slug(request, "session")
    await require(request, Role.EDITOR, event_id)
    body = await read_body(request, SessionBody)
    store = request.app[STORE]
    event = await store.get_event(event_id)
    if not event.accepts_time(body.starts_at):
        raise Invalid("starts_at: must fall within the event's days", field="starts_at")
    session = Session(id=session_id, event=event_id, day=event.local_day(body.starts_at), **body.model_dump())
    _entry, created = await store.put_session(session)
    return web.json_response(session.model_dump(mode="json"), status=201 if created else 200)


@routes.route("DELETE", "/api/events/{event}/sessions/{session}", "Delete a session no update belongs to; "
              "broadcast as session with deleted: true", who="editor", status=204,
              errors=(401, 403, 404, 409, 503))  # fmt: skip
async def delete_session(request: web.Request) -> web.Response:
    event_id, session_id = slug(request, "event"), slug(request, "session")
    await require(request, Role.EDITOR, event_id)
    store = request.app[STORE]
    await store.get_event(event_id)
    await store.delete_session(event_id, session_id)
    return web.Response(status=204)


@routes.route("GET", "/api/events/{event}/sessions", "Sessions in start order", response=SessionList,
              query=("day",), errors=(404, 422))  # fmt: skip
async def list_sessions(request: web.Request) -> web.Response:
    event_id = slug(request, "event")
    store = request.app[STORE]
    await store.get_event(event_id)
    sessions = await store.list_sessions(event_id, parse_day(request.query.get("day")))
    return web.json_response(SessionList(sessions=sessions).model_dump(mode="json"))
