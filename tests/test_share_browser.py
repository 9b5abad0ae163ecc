"""The reader in headless Chromium: the Share link (Web Share, else copy), and the first screen of a phone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from browser import chromium
from conftest import LiveServer
from test_browser import Blog, make_blog, open_live

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def blog(live_server: LiveServer) -> Blog:
    return make_blog(live_server)


def test_share_copies_the_permalink_or_uses_web_share(browser: Browser, blog: Blog) -> None:
    from playwright.sync_api import expect

    first = blog.post("Doors open in Hall 1")
    page, watch = open_live(browser, blog.url)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=blog.server.url)
    live = blog.post("Jos Creese: digital is not an IT project", key=True)
    card = page.locator(f"#u-{live['id']}")
    expect(card).to_be_visible()
    assert page.evaluate("typeof navigator.share") == "undefined"  # desktop Chromium on Linux: the copy fallback
    card.get_by_role("link", name="Share").click()
    expect(card.locator(".update-share")).to_have_text("Link copied")
    permalink = f"{blog.url}/updates/{live['id']}"
    assert page.evaluate("navigator.clipboard.readText()") == permalink
    assert page.url == blog.url  # the page stayed

    # Where there is a Web Share API (phones), it gets the update's headline and permalink.
    page.evaluate("navigator.share = async (data) => { window.__shared = data; }")
    page.locator(f"#u-{first['id']}").get_by_role("link", name="Share").click()
    page.wait_for_function("() => window.__shared !== undefined")
    shared = page.evaluate("window.__shared")
    assert shared["url"] == f"{blog.url}/updates/{first['id']}"

    # The permalink page itself: the update, and a way back to the live blog.
    page.goto(permalink)
    expect(page.locator(f"#u-{live['id']}")).to_contain_text("digital is not an IT project")
    page.get_by_role("link", name="Follow the live blog of SOCITM 2011").click()
    expect(page.locator("#status")).to_have_text("Live")
    assert watch.problems() == []


def test_phone_first_screen_reaches_the_newest_update(browser: Browser, blog: Blog) -> None:
    pinned = blog.post("Follow the round tables here all day; the agenda is online.")
    blog.api.edit("socitm-2011", pinned["id"], pinned=True)
    for n in range(5):
        blog.post(f"Update {n}: shared services, savings and the back office", session="keynote", key=n % 2 == 0)
    newest = blog.post("Ann Brown: shared services saved Brent £1.2m in the first year.", key=True)
    page, watch = open_live(browser, blog.url, width=390, height=844)
    card = page.locator(f"#updates #u-{newest['id']}")
    box = card.bounding_box()
    assert box is not None and box["y"] < 844 / 2, box  # it starts in the top half of the first screen
    bar = [page.locator(selector).bounding_box() for selector in ("#session", "#only-key", "#key-events-box summary")]
    assert all(b is not None for b in bar)
    middles = [b["y"] + b["height"] / 2 for b in bar if b is not None]
    assert max(middles) - min(middles) < 8, middles  # the filters are one bar
    assert page.get_by_label("Key events only").count() == 1  # the short visible label keeps its full name
    assert page.locator(".live-badge").inner_text().lower() == "ended"  # SOCITM 2011 is over
    assert watch.problems() == []
