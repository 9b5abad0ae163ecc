"""The embed page: framed only by embed_origins, the live reader without the site's chrome; the loader script."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from conftest import ADMIN, make_event

EMBED = "/events/socitm-2011/embed"
NEWS = "https://news.example"


def policy(response: Any) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))


async def test_embed_is_framed_only_by_embed_origins(
    aiohttp_client: Any, make_app: Callable[..., web.Application]
) -> None:
    client = await aiohttp_client(make_app(embed_origins=(NEWS, "https://*.paper.example")))
    await make_event(client)
    posted = await client.post(
        "/api/events/socitm-2011/updates",
        json={"text": "Doors **open**", "happened_at": "2011-10-11T08:18:00Z"},
        headers=ADMIN,
    )
    assert posted.status == 201
    response = await client.get(EMBED)
    assert response.status == 200
    assert policy(response)["frame-ancestors"] == f"{NEWS} https://*.paper.example"
    assert "X-Frame-Options" not in response.headers
    html = await response.text()
    assert "Doors <strong>open</strong>" in html and 'id="reader-config"' in html
    assert "masthead" not in html and "controls" not in html  # no site chrome
    # Every other page still refuses to be framed.
    for path in ("/events/socitm-2011", "/desk/events/socitm-2011"):
        other = await client.get(path)
        assert policy(other)["frame-ancestors"] == "'none'" and other.headers["X-Frame-Options"] == "DENY", path


async def test_embed_without_origins_cannot_be_framed(client: Any) -> None:
    await make_event(client)
    response = await client.get(EMBED)
    assert response.status == 200
    assert policy(response)["frame-ancestors"] == "'none'" and response.headers["X-Frame-Options"] == "DENY"
    assert (await client.get("/events/nope/embed")).status == 404


async def test_embed_theme_follows_the_host(client: Any) -> None:
    await make_event(client)
    assert '<html lang="en" data-theme="dark">' in await (await client.get(EMBED + "?theme=dark")).text()
    plain = await (await client.get(EMBED + '?theme="><script>')).text()
    assert '<html lang="en">' in plain and "<script>" not in plain.split("</head>")[0].split("<title>")[0]


async def test_loader_script_may_be_loaded_by_other_sites(client: Any) -> None:
    loader = await client.get("/static/embed.js")
    assert loader.status == 200 and loader.content_type == "text/javascript"
    assert loader.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert (await client.get("/static/reader.js")).headers["Cross-Origin-Resource-Policy"] == "same-origin"


async def test_editor_desk_shows_the_embed_code(client: Any) -> None:
    await make_event(client)
    html = await (await client.get("/desk/events/socitm-2011/days/2011-10-11")).text()
    host = f"http://{client.host}:{client.port}"
    assert f"&lt;script src=&#34;{host}/static/embed.js&#34; data-event=&#34;socitm-2011&#34; async&gt;" in html
    assert "embed_origins" in html  # none yet: the desk says which setting opens it
