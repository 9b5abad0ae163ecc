"""The embed in headless Chromium: a news site on another origin pastes the snippet and sees posts arrive live."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from browser import chromium, new_page, other_site
from conftest import LiveServer, free_port
from test_browser import make_blog

if TYPE_CHECKING:
    from playwright.sync_api import Browser

ARTICLE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Council news</title></head>
<body><main><h1>Our report from SOCITM 2011</h1><p>Follow the conference live below.</p>
{snippet}
<p id="after">More news</p></main></body></html>"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def test_embedded_on_another_origin_grows_with_live_posts(
    browser: Browser, live_server_factory: Callable[..., LiveServer]
) -> None:
    port = free_port()
    host = f"http://localhost:{port}"
    server = live_server_factory(PLENARY_EMBED_ORIGINS=host)
    blog = make_blog(server)
    blog.post("Doors open in Hall 1")
    snippet = f'<script src="{server.url}/static/embed.js" data-event="socitm-2011" async></script>'
    with other_site({"/article": ARTICLE.format(snippet=snippet)}, port) as site:
        page, watch = new_page(browser, width=390, height=844, dark=True)
        page.goto(f"{site}/article")
        frame = page.frame_locator("iframe.plenary-embed")
        frame.locator("#status").filter(has_text="Live").wait_for()
        assert frame.locator("html").get_attribute("data-theme") == "dark"  # the host page's preference
        iframe = page.locator("iframe.plenary-embed")
        page.wait_for_function("() => document.querySelector('iframe.plenary-embed').style.height !== '480px'")
        before = iframe.bounding_box()
        assert before is not None
        posted = blog.post("A **second** update, long enough to need room: " + "more words " * 40)
        frame.locator(f"#u-{posted['id']}").filter(has_text="A second update").wait_for()
        grown = "h => document.querySelector('iframe.plenary-embed').getBoundingClientRect().height > h"
        page.wait_for_function(grown, arg=before["height"])
        assert not watch.problems(), watch.problems()


def test_a_site_not_in_embed_origins_cannot_frame_it(
    browser: Browser, live_server_factory: Callable[..., LiveServer]
) -> None:
    server = live_server_factory(PLENARY_EMBED_ORIGINS="https://news.example")
    make_blog(server)
    snippet = f'<script src="{server.url}/static/embed.js" data-event="socitm-2011" async></script>'
    with other_site({"/article": ARTICLE.format(snippet=snippet)}, free_port()) as site:
        page, _watch = new_page(browser)
        page.goto(f"{site}/article")
        handle = page.locator("iframe.plenary-embed").element_handle()
        frame = handle.content_frame() if handle else None
        assert frame is not None
        frame.wait_for_load_state()
        assert frame.locator("#updates").count() == 0  # Chromium refused to show it (CSP frame-ancestors)
