"""Sharing: Open Graph and Twitter cards, the publisher and image in JSON-LD, one page per update."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from conftest import ADMIN, make_event
from test_pages import jsonld, parse

PAGE = "/events/socitm-2011"
UPDATES = "/api/events/socitm-2011/updates"
HALL = {"url": "https://example.org/hall.jpg", "alt": "Audience in Hall 1", "caption": "A full hall"}


def meta(html: str) -> dict[str, str]:
    """Every <meta property|name=... content=...> of the page."""
    found: dict[str, str] = {}
    for tag, attrs in parse(html).tags:
        key = attrs.get("property") or attrs.get("name")
        if tag == "meta" and key and attrs.get("content") is not None:
            found[key] = str(attrs["content"])
    return found


async def post(client: Any, minute: int, **body: Any) -> dict[str, Any]:
    response = await client.post(UPDATES, headers=ADMIN,
                                 json={"happened_at": f"2011-10-11T08:{minute:02d}:00Z", **body})  # fmt: skip
    assert response.status == 201, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def test_reader_page_cards_and_jsonld(aiohttp_client: Any, make_app: Callable[..., web.Application]) -> None:
    logo = "https://news.example/logo.png"
    client = await aiohttp_client(make_app(publisher_name="Council News", publisher_logo_url=logo))
    await make_event(client)
    await post(client, 1, text="Doors open", image=HALL)
    for minute in range(2, 16):
        await post(client, minute, text=f"Update number {minute} <script>x</script>")
    html = await (await client.get(PAGE)).text()
    tags = meta(html)
    base = str(client.make_url(PAGE))
    assert tags["og:title"] == "Smarter Government – Microsoft at SOCITM 2011"
    assert tags["og:site_name"] == "Council News" and tags["og:url"] == base and tags["og:type"] == "website"
    assert tags["og:description"] == "Live coverage of SOCITM 2011 at the NEC"
    assert tags["og:image"] == HALL["url"] and tags["og:image:alt"] == "Audience in Hall 1"
    assert tags["twitter:card"] == "summary_large_image" and tags["twitter:image"] == HALL["url"]
    data = jsonld(html)
    assert data["publisher"] == {"@type": "Organization", "name": "Council News",
                                 "logo": {"@type": "ImageObject", "url": logo}}  # fmt: skip
    assert "image" not in data  # the only photo is older than the latest ten
    assert len(data["liveBlogUpdate"]) == 10  # the latest only; the page shows all 15
    assert data["liveBlogUpdate"][0]["headline"] == "Update number 15"


async def test_permalink_page(client: Any) -> None:
    await make_event(client)
    await client.put("/api/events/socitm-2011/sessions/keynote", headers=ADMIN,
                     json={"title": "Digital by default", "kind": "keynote", "starts_at": "2011-10-11T09:00:00+01:00",
                           "room": "Hall 1", "speakers": [{"name": "Jos Creese"}]})  # fmt: skip
    update = await post(client, 18, text="**Jos Creese**: digital is not an IT project", session="keynote",
                        key=True, image=HALL)  # fmt: skip
    path = f"{PAGE}/updates/{update['id']}"
    response = await client.get(path)
    assert response.status == 200 and response.headers["X-Frame-Options"] == "DENY"
    html = await response.text()
    assert f'id="u-{update["id"]}"' in html and "<strong>Jos Creese</strong>" in html
    assert "Digital by default" in html and "Hall 1" in html and f'href="{PAGE}#u-{update["id"]}"' in html
    tags = meta(html)
    data_title = "Smarter Government – Microsoft at SOCITM 2011"
    assert tags["og:title"] == f"Jos Creese: digital is not an IT project — {data_title}"
    assert tags["og:url"] == str(client.make_url(path)) and tags["og:image"] == HALL["url"]
    data = jsonld(html)
    assert data["@type"] == "BlogPosting" and data["url"] == tags["og:url"] and data["image"] == HALL["url"]
    assert data["publisher"]["name"] == "Smarter Government – Microsoft at SOCITM 2011"  # no publisher_name set
    # The share link of every card is the permalink; the reader page carries it too.
    assert f'<a class="update-share" href="{path}">Share</a>' in html
    assert f'<a class="update-share" href="{path}">Share</a>' in await (await client.get(PAGE)).text()
    # Deleted or unknown updates are a 404 page.
    assert (await client.delete(f"{UPDATES}/{update['id']}", headers=ADMIN)).status == 204
    for gone in (path, f"{PAGE}/updates/nope", f"{PAGE}/updates/%3Cx%3E", "/events/nope/updates/x"):
        response = await client.get(gone)
        assert response.status == 404 and response.content_type == "text/html", gone
