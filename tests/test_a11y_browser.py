"""axe-core (vendored, tests/vendor) on every page in Chromium: no serious or critical accessibility violation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from browser import chromium, new_page
from conftest import LiveServer
from test_browser import Blog, make_blog, open_live

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
RUN = """async () => {
  // label-content-name-mismatch is experimental in axe (off by default); the desks once failed it.
  const rules = { "label-content-name-mismatch": { enabled: true } };
  const result = await axe.run(document, { resultTypes: ["violations"], rules });
  return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")) }));
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def blog(live_server: LiveServer) -> Blog:
    return make_blog(live_server)


def serious(page: Page) -> list[dict[str, Any]]:
    """axe's serious and critical violations on the page as it is now (axe runs through DevTools, not the CSP)."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = page.evaluate(RUN)
    return [v for v in found if v["impact"] in ("serious", "critical")]


def test_axe_finds_what_it_should(browser: Browser) -> None:
    page, _watch = new_page(browser)
    page.set_content('<html lang="en"><title>t</title><main><button></button><img src="x.png"></main></html>')
    assert {v["id"] for v in serious(page)} >= {"button-name", "image-alt"}
    page.context.close()


def test_pages_have_no_serious_accessibility_violations(browser: Browser, blog: Blog) -> None:
    from playwright.sync_api import expect

    blog.post("Good morning from **the NEC**: day two starts at nine.")
    key = blog.post("Jos Creese: councils must be *digital by default*.", session="keynote", key=True)
    blog.post(quote={"text": "Digital is not an IT project.", "speaker": "Jos Creese"}, session="keynote")
    pages = {
        "reader": blog.url,
        "embed": f"{blog.url}/embed",
        "permalink": f"{blog.url}/updates/{key['id']}",
    }
    for name, url in pages.items():
        for width, height in ((390, 844), (1280, 900)):
            if name == "reader":
                page, _watch = open_live(browser, url, width=width, height=height)
            else:
                page, _watch = new_page(browser, width=width, height=height)
                page.goto(url)
                expect(page.locator(f"#u-{key['id']}")).to_be_visible()
            assert serious(page) == [], (name, width)
            page.context.close()


def test_desks_have_no_serious_accessibility_violations(browser: Browser, blog: Blog) -> None:
    from playwright.sync_api import expect

    from conftest import ADMIN_TOKEN

    blog.post("Good morning from the NEC.", key=True)
    for path in ("/desk/events/socitm-2011", "/desk/events/socitm-2011/days/2011-10-11"):
        page, _watch = new_page(browser)
        page.goto(blog.server.url + path)
        assert serious(page) == [], (path, "signed out")
        page.get_by_label("Token").fill(ADMIN_TOKEN)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#desk")).to_be_visible()
        page.wait_for_timeout(500)  # the desk fills its lists
        assert serious(page) == [], (path, "signed in")
        assert page.get_by_role("main").count() == 1, path
        page.context.close()
