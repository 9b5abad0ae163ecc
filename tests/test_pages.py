"""Reader page first view, JSON-LD, CSP, session and key filters, static assets and the Atom feed."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from server import pages

from conftest import ADMIN, make_event

PAGE = "/events/socitm-2011"
UPDATES = "/api/events/socitm-2011/updates"
ATOM = "{http://www.w3.org/2005/Atom}"
EVIL = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> </script><!--'


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of each <script> element."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None


def parse(html: str) -> Tags:
    parser = Tags()
    parser.feed(html)
    return parser


def jsonld(html: str) -> dict[str, Any]:
    blocks = [json.loads(text) for attrs, text in parse(html).scripts if attrs.get("type") == "application/ld+json"]
    assert len(blocks) == 1
    return blocks[0]  # type: ignore[no-any-return]


def article_ids(html: str, section: str = "updates") -> list[str]:
    body = html.split(f'id="{section}"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'<article [^>]*data-id="([^"]+)"', body)


async def session(client: Any, sid: str, title: str, at: str) -> None:
    body = {"title": title, "kind": "keynote", "starts_at": at, "speakers": [{"name": "Jos Creese"}]}
    response = await client.put(f"/api/events/socitm-2011/sessions/{sid}", json=body, headers=ADMIN)
    assert response.status == 201, await response.text()


async def post(client: Any, **body: Any) -> dict[str, Any]:
    response = await client.post(UPDATES, json={"happened_at": "2011-10-11T08:18:00Z", **body}, headers=ADMIN)
    assert response.status == 201, await response.text()
    return await response.json()  # type: ignore[no-any-return]


@pytest.fixture
async def blog(client: Any) -> dict[str, dict[str, Any]]:
    await make_event(client)
    await session(client, "keynote", "Digital by default", "2011-10-11T09:00:00+01:00")
    await session(client, "roundtable", "Shared services <& savings>", "2011-10-11T11:00:00+01:00")
    first = await post(client, text="Doors open in **Hall 1**", session="keynote")
    quote = await post(
        client,
        text="",
        session="keynote",
        key=True,
        happened_at="2011-10-11T08:25:00Z",
        quote={"text": "Digital is not an IT project.", "speaker": "Jos Creese"},
        image={"url": "https://example.org/hall.jpg", "caption": "A full hall", "alt": "Audience in Hall 1"},
    )
    evil = await post(client, text=EVIL, session="roundtable", happened_at="2011-10-11T10:02:00Z", tags=["<b>x</b>"])
    return {"first": first, "quote": quote, "evil": evil}


async def test_first_view_shows_updates_newest_first_escaped(client: Any, blog: dict[str, dict[str, Any]]) -> None:
    response = await client.get(PAGE)
    assert response.status == 200
    assert response.content_type == "text/html"
    html = await response.text()
    assert article_ids(html) == [blog["evil"]["id"], blog["quote"]["id"], blog["first"]["id"]]
    # Reporter text: Markdown rendered, HTML shown as text, never as markup.
    assert "Doors open in <strong>Hall 1</strong>" in html
    # render_inline drops raw HTML tags (scripts with their content); either way none becomes markup here.
    evil = html.split(f'id="u-{blog["evil"]["id"]}"', 1)[1].split("</article>", 1)[0]
    assert "<script" not in evil and "<img" not in evil and "onerror=" not in evil.replace("onerror=&quot;", "")
    assert [attrs.get("type") for attrs, _text in parse(html).scripts] == ["module", "module", "application/ld+json",
                                                                            "application/json"]  # fmt: skip
    assert not [t for t, a in parse(html).tags if t == "img" and "onerror" in a]
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    # Times in the event's zone (Europe/London, BST in October), with the day as the event has two.
    assert '<time datetime="2011-10-11T09:18:00+01:00"><span class="update-day">Tue 11 Oct</span> 09:18</time>' in html
    # Session titles, pull quote with speaker, image with alt, caption and lazy loading, key marker.
    assert '<span class="update-session">Digital by default</span>' in html
    assert "Shared services &lt;&amp; savings&gt;" in html
    assert "<blockquote><p>Digital is not an IT project.</p></blockquote><figcaption>Jos Creese</figcaption>" in html
    img = next(a for t, a in parse(html).tags if t == "img")
    assert (
        img["alt"] == "Audience in Hall 1" and img["loading"] == "lazy" and img["src"] == "https://example.org/hall.jpg"
    )
    assert "<figcaption>A full hall</figcaption>" in html
    assert f'class="update is-key" id="u-{blog["quote"]["id"]}"' in html
    key_list = html.split('id="key-events"', 1)[1].split("</ol>", 1)[0]
    assert f'href="#u-{blog["quote"]["id"]}"' in key_list and "Digital is not an IT project." in key_list
    # The page is live: it resumes from the log position read before the list.
    config = next(json.loads(t) for a, t in parse(html).scripts if a.get("id") == "reader-config")
    assert config["event"] == "socitm-2011" and config["live"] is True
    assert config["after"] == blog["evil"]["seq"] and config["timezone"] == "Europe/London"
    assert config["sessions"]["roundtable"] == "Shared services <& savings>"


async def test_scripts_and_styles_are_all_external_or_data(client: Any, blog: dict[str, dict[str, Any]]) -> None:
    html = await (await client.get(PAGE)).text()
    tags = parse(html)
    for attrs, text in tags.scripts:
        if attrs.get("src"):
            assert attrs["type"] == "module" and attrs["src"].startswith("/static/") and not text.strip()
        else:
            assert attrs.get("type") in ("application/ld+json", "application/json")
            assert "<" not in text  # JSON-escaped: nothing can close the element early
    assert not [t for t, _a in tags.tags if t == "style"]
    assert not [t for t, a in tags.tags if "style" in a or any(name.startswith("on") for name in a)]


async def test_csp_is_strict(client: Any, blog: dict[str, dict[str, Any]]) -> None:
    response = await client.get(PAGE)
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["base-uri"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["form-action"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["require-trusted-types-for"] == "'script'"
    assert policy["trusted-types"] == "plenary-update"  # reader.js's one policy, nothing else
    assert policy["connect-src"].startswith("'self'")
    assert policy["img-src"] == "'self' https:"  # no http:, no data:
    assert "unsafe" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # A forged Host cannot add sources to the policy.
    forged = await client.get(PAGE, headers={"Host": "evil.example; script-src *"})
    assert "script-src *" not in forged.headers.get("Content-Security-Policy", "")


async def test_jsonld_is_a_live_blog_posting(client: Any, blog: dict[str, dict[str, Any]]) -> None:
    data = jsonld(await (await client.get(PAGE)).text())
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "LiveBlogPosting"
    assert data["headline"] == "Smarter Government – Microsoft at SOCITM 2011"
    assert data["coverageStartTime"] == "2011-10-10T00:00:00+01:00"
    assert data["coverageEndTime"] == "2011-10-11T23:59:59+01:00"
    assert data["about"] == {
        "@type": "Event",
        "name": "SOCITM 2011",
        "startDate": "2011-10-10",
        "endDate": "2011-10-11",
        "location": {"@type": "Place", "name": "the NEC"},
    }
    posts = data["liveBlogUpdate"]
    assert [p["@type"] for p in posts] == ["BlogPosting"] * 3
    assert [p["url"].rsplit("#u-", 1)[1] for p in posts] == [blog[k]["id"] for k in ("evil", "quote", "first")]
    evil, quote, first = posts
    assert first["headline"] == "Doors open in Hall 1" and first["articleBody"] == "Doors open in Hall 1"
    assert first["datePublished"] == "2011-10-11T09:18:00+01:00"
    assert first["author"] == {"@type": "Person", "name": "admin"}
    assert quote["headline"] == "“Digital is not an IT project.” — Jos Creese"
    assert quote["image"] == "https://example.org/hall.jpg"
    assert "pwned" not in evil["headline"]
    assert data["dateModified"] == "2011-10-11T11:02:00+01:00"


async def test_session_filter_server_side(client: Any, blog: dict[str, dict[str, Any]]) -> None:
    html = await (await client.get(PAGE + "?session=keynote")).text()
    assert article_ids(html) == [blog["quote"]["id"], blog["first"]["id"]]
    assert '<option value="keynote" selected>09:00 Digital by default</option>' in html
    assert '<optgroup label="Tue 11 Oct">' in html
    config = next(json.loads(t) for a, t in parse(html).scripts if a.get("id") == "reader-config")
    assert config["session"] == "keynote"
    html = await (await client.get(PAGE + "?session=roundtable")).text()
    assert article_ids(html) == [blog["evil"]["id"]]
    assert (await client.get(PAGE + "?session=nope")).status == 404


async def test_key_filter_and_pinned_update(client: Any, blog: dict[str, dict[str, Any]]) -> None:
    html = await (await client.get(PAGE + "?key=1")).text()
    assert 'class="feed only-key"' in html and 'name="key" value="1" checked' in html
    patch = await client.patch(f"{UPDATES}/{blog['first']['id']}", json={"pinned": True}, headers=ADMIN)
    assert patch.status == 200
    html = await (await client.get(PAGE)).text()
    assert article_ids(html, "pinned") == [blog["first"]["id"]]
    assert article_ids(html) == [blog["evil"]["id"], blog["quote"]["id"]]  # not twice
    assert '<span class="badge badge-pinned">Pinned</span>' in html


async def test_unknown_event_is_a_404_page(client: Any) -> None:
    for path in ("/events/nope", "/events/NOT%20A%20SLUG", "/events/nope/feed.atom"):
        response = await client.get(path)
        assert response.status == 404, path
    response = await client.get("/events/nope")
    assert response.content_type == "text/html"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


async def test_empty_event_page(client: Any) -> None:
    await make_event(client)
    html = await (await client.get(PAGE)).text()
    assert article_ids(html) == []
    assert 'id="empty" class="empty">' in html  # shown, not hidden
    assert jsonld(html)["liveBlogUpdate"] == []
    config = next(json.loads(t) for a, t in parse(html).scripts if a.get("id") == "reader-config")
    assert config["after"] == "0-0"


async def test_older_updates_page(
    client: Any, blog: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages.reader, "PAGE_SIZE", 2)
    html = await (await client.get(PAGE)).text()
    assert article_ids(html) == [blog["evil"]["id"], blog["quote"]["id"]]
    older = re.search(r'<a class="older" href="([^"]+)">Older updates</a>', html)
    assert older is not None
    html = await (await client.get(older[1].replace("&amp;", "&"))).text()
    assert article_ids(html) == [blog["first"]["id"]]
    config = next(json.loads(t) for a, t in parse(html).scripts if a.get("id") == "reader-config")
    assert config["live"] is False
    assert "Back to the latest updates" in html


async def test_static_assets_are_versioned_and_cached(client: Any) -> None:
    await make_event(client)
    html = await (await client.get(PAGE)).text()
    js = next(a["src"] for t, a in parse(html).tags if t == "script" and a.get("src"))
    css = next(a["href"] for t, a in parse(html).tags if t == "link" and a.get("rel") == "stylesheet")
    assert js == pages.asset_url("reader.js") and re.fullmatch(r"/static/reader\.js\?v=[0-9a-f]{12}", str(js))
    response = await client.get(str(js))
    assert response.status == 200 and response.content_type == "text/javascript"
    assert "immutable" in response.headers["Cache-Control"]
    assert "export function updateHTML" in await response.text()
    response = await client.get(str(css))
    assert response.status == 200 and response.content_type == "text/css"
    unversioned = await client.get("/static/reader.js")
    assert unversioned.headers["Cache-Control"] == "no-cache"
    again = await client.get(str(js), headers={"If-None-Match": unversioned.headers["ETag"]})
    assert again.status == 304
    for bad in ("/static/reader.html", "/static/..%2Fpages.py", "/static/nope.js", "/static/.reader.js"):
        assert (await client.get(bad)).status == 404, bad


async def test_atom_feed(client: Any, blog: dict[str, dict[str, Any]]) -> None:
    await post(client, text="Control \x01 characters \x0b are dropped", happened_at="2011-10-11T10:30:00Z")
    response = await client.get(PAGE + "/feed.atom")
    assert response.status == 200
    assert response.content_type == "application/atom+xml"
    body = await response.read()
    root = ET.fromstring(body)
    assert root.tag == f"{ATOM}feed"
    assert root.findtext(f"{ATOM}title") == "Smarter Government – Microsoft at SOCITM 2011"
    base = str(client.make_url(PAGE))
    assert root.findtext(f"{ATOM}id") == base
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}
    assert links == {"alternate": base, "self": base + "/feed.atom"}
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 4
    assert root.findtext(f"{ATOM}updated") == max(e.findtext(f"{ATOM}updated", "") for e in entries)  # the newest
    control, evil, quote, first = entries
    assert control.findtext(f"{ATOM}title") == "Control characters are dropped"
    assert first.findtext(f"{ATOM}id") == f"{base}#u-{blog['first']['id']}"
    assert first.findtext(f"{ATOM}title") == "Doors open in Hall 1"
    assert first.findtext(f"{ATOM}published") == "2011-10-11T08:18:00Z"
    assert first.findtext(f"{ATOM}author/{ATOM}name") == "admin"
    content = first.find(f"{ATOM}content")
    assert content is not None and content.get("type") == "html"
    assert "<strong>Hall 1</strong>" in (content.text or "") and "Digital by default" in (content.text or "")
    evil_html = evil.findtext(f"{ATOM}content") or ""
    assert "<script" not in evil_html and "<img" not in evil_html and "onerror" not in evil_html
    assert [c.get("term") for c in quote.findall(f"{ATOM}category")] == ["key"]
    assert "<blockquote><p>Digital is not an IT project.<br>— Jos Creese</p></blockquote>" in (
        quote.findtext(f"{ATOM}content") or ""
    )
    assert b"<script" not in body and b"&lt;script" not in body


async def test_csp_allows_images_from_the_media_origin(aiohttp_client: Any, make_app: Callable[..., Any]) -> None:
    client = await aiohttp_client(make_app(media_origin="http://media.example:8081"))
    await make_event(client)
    response = await client.get(PAGE)
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert policy["img-src"] == "'self' https: http://media.example:8081"


async def test_live_badge_only_while_the_event_runs(client: Any) -> None:
    import datetime as dt

    today = dt.datetime.now(dt.UTC).astimezone(ZoneInfo("Pacific/Kiritimati")).date()
    zones = {"live": (today, "Pacific/Kiritimati"), "ended": (dt.date(2011, 10, 11), "Europe/London"),
             "upcoming": (today + dt.timedelta(days=30), "Europe/London")}  # fmt: skip
    labels = {"live": "Live", "ended": "Ended", "upcoming": "Soon"}
    for phase, (day, zone) in zones.items():
        await make_event(client, id=f"event-{phase}", starts_on=day.isoformat(), ends_on=day.isoformat(), timezone=zone)
        for path in (f"/events/event-{phase}", f"/events/event-{phase}/embed"):
            html = await (await client.get(path)).text()
            assert f'<span class="live-badge" data-phase="{phase}">{labels[phase]}</span>' in html, path
