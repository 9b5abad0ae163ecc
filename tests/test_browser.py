"""The reader page in headless Chromium against real `python -m server` processes."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from server.store import Keys

from browser import IMAGES, Api, Watch, chromium, new_page, screenshot, stage_photo
from conftest import ADMIN, EVENT, LiveServer, free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

EVENT_ID = EVENT["id"]
LONDON = dt.timezone(dt.timedelta(hours=1))  # BST, as Europe/London in October 2011


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@dataclass
class Blog:
    """An event on a live server, with an API client and a clock for happened_at."""

    server: LiveServer
    api: Api
    minutes: Iterator[int] = field(default_factory=lambda: itertools.count(0, 3))

    @property
    def url(self) -> str:
        return f"{self.server.url}/events/{EVENT_ID}"

    def post(self, text: str = "", **body: Any) -> dict[str, Any]:
        at = dt.datetime(2011, 10, 11, 9, 0, tzinfo=LONDON) + dt.timedelta(minutes=next(self.minutes))
        return self.api.post(EVENT_ID, text=text, happened_at=at.isoformat(), **body)


def make_blog(server: LiveServer) -> Blog:
    api = Api(server.url, ADMIN)
    api.call("POST", "/api/events", EVENT, expect=201)
    sessions = {
        "keynote": (
            "Digital by default",
            "09:00",
            [{"name": "Jos Creese", "role": "President", "organisation": "Socitm"}],
        ),
        "roundtable": ("Shared services: savings without the pain", "11:00", [{"name": "Ann Brown"}]),
    }
    for sid, (title, at, speakers) in sessions.items():
        body = {"title": title, "kind": "keynote", "starts_at": f"2011-10-11T{at}:00+01:00", "speakers": speakers}
        api.call("PUT", f"/api/events/{EVENT_ID}/sessions/{sid}", body, expect=201)
    return Blog(server, api)


@pytest.fixture
def blog(live_server: LiveServer) -> Blog:
    return make_blog(live_server)


def open_live(browser: Browser, url: str, **options: Any) -> tuple[Page, Watch]:
    page, watch = new_page(browser, **options)
    page.goto(url)
    page.locator("#status").filter(has_text="Live").wait_for(timeout=5_000)
    return page, watch


def article(page: Page, update: dict[str, Any]) -> Any:
    return page.locator(f"#u-{update['id']}")


def test_new_edited_and_deleted_updates_show_without_reload(browser: Browser, blog: Blog) -> None:
    from playwright.sync_api import expect

    first = blog.post("Doors open in **Hall 1**", session="keynote")
    page, watch = open_live(browser, blog.url)
    expect(article(page, first).locator("strong")).to_have_text("Hall 1")
    page.evaluate("window.__loaded = true")  # gone if the page reloads

    second = blog.post("Jos Creese: *digital by default* is [the plan](https://example.org/plan)", session="keynote")
    expect(article(page, second)).to_be_visible(timeout=2_000)
    expect(page.locator("#updates > article").first).to_have_id(f"u-{second['id']}")  # newest first
    expect(article(page, second).locator("em")).to_have_text("digital by default")
    link = article(page, second).locator("a", has_text="the plan")
    expect(link).to_have_attribute("href", "https://example.org/plan")
    expect(article(page, second).locator(".update-session")).to_have_text("Digital by default")
    expect(article(page, second).locator("time")).to_have_text(re.compile(r"Tue 11 Oct\s+09:03"))
    expect(page.locator("#announcer")).to_contain_text("New update: Jos Creese: digital by default is the plan")

    blog.api.edit(EVENT_ID, second["id"], text="Jos Creese: digital by default, *corrected*")
    expect(article(page, second).locator(".update-text")).to_have_text("Jos Creese: digital by default, corrected",
                                                                       timeout=2_000)  # fmt: skip
    expect(page.locator("#updates > article")).to_have_count(2)  # replaced in place, not added
    blog.api.delete(EVENT_ID, first["id"])
    expect(article(page, first)).to_have_count(0, timeout=2_000)
    expect(page.locator("#readers")).to_have_text(re.compile(r"^\d+ readers?$"), timeout=3_000)
    assert page.evaluate("window.__loaded") is True
    assert page.evaluate("window.plenaryReader.feed.transport") == "websocket"
    assert watch.problems() == []


def test_reconnects_after_a_server_restart_and_gets_what_it_missed(
    browser: Browser, live_server_factory: Callable[..., LiveServer]
) -> None:
    from playwright.sync_api import expect

    port = free_port()
    blog = make_blog(live_server_factory(port=port))
    before = blog.post("Before the restart")
    page, watch = open_live(browser, blog.url)
    expect(article(page, before)).to_be_visible()

    blog.server.stop()
    expect(page.locator("#status")).to_have_text(re.compile("Reconnecting|Offline"), timeout=5_000)
    other = live_server_factory()  # a second process on the same store takes the post meanwhile
    missed = Api(other.url, ADMIN).post(EVENT_ID, text="Posted while the reader's server was down",
                                        happened_at="2011-10-11T10:00:00+01:00")  # fmt: skip
    live_server_factory(port=port)
    expect(article(page, missed)).to_be_visible(timeout=20_000)
    expect(page.locator("#status")).to_have_text("Live")
    after = blog.post("After the restart")
    expect(article(page, after)).to_be_visible(timeout=2_000)
    expect(page.locator("#updates > article")).to_have_count(3)  # nothing twice
    assert watch.problems() == []


def test_resync_reloads_the_list_when_the_log_was_trimmed(
    browser: Browser, blog: Blog, store_url: str, prefix: str
) -> None:
    import redis
    from playwright.sync_api import expect

    old = blog.post("Old news, deleted while the reader was away")
    kept = blog.post("Still here")
    page, watch = open_live(browser, blog.url)
    page.evaluate("window.plenaryReader.feed.stop()")
    missed = blog.post("Posted while the reader was away")
    blog.api.delete(EVENT_ID, old["id"])
    with redis.Redis.from_url(store_url) as client:  # the log loses the reader's position and what followed it
        log = Keys(prefix).log(EVENT_ID)
        client.xdel(log, *[entry_id for entry_id, _fields in client.xrange(log)])
    page.evaluate("window.plenaryReader.feed.start()")
    expect(article(page, missed)).to_be_visible(timeout=5_000)
    expect(article(page, old)).to_have_count(0)
    expect(article(page, kept)).to_be_visible()
    live = blog.post("Live again after the resync")
    expect(article(page, live)).to_be_visible(timeout=2_000)
    expect(page.locator("#updates > article")).to_have_count(3)
    assert watch.problems() == []


def test_after_a_resync_with_nothing_to_show_the_reader_still_misses_nothing(
    browser: Browser, live_server_factory: Callable[..., LiveServer], store_url: str, prefix: str
) -> None:
    """A session-filtered reader whose list comes back empty from a resync resumes from the log's position."""
    import redis
    from playwright.sync_api import expect

    blog = make_blog(live_server_factory(PLENARY_RESUME_CACHE_MESSAGES="0"))  # resumes read the (trimmed) log
    blog.post("Coffee", session="keynote")
    page, watch = open_live(browser, blog.url + "?session=roundtable")
    page.evaluate("window.plenaryReader.feed.stop()")
    newest = blog.post("More coffee", session="keynote")
    with redis.Redis.from_url(store_url) as client:  # trimmed from the start: the reader's position is gone
        client.xtrim(Keys(prefix).log(EVENT_ID), minid=newest["seq"], approximate=False)
    page.evaluate("window.plenaryReader.feed.start()")
    deadline = time.monotonic() + 5
    while page.evaluate("window.plenaryReader.feed.after") != newest["seq"]:  # resync, reload: the log position
        assert time.monotonic() < deadline, page.evaluate("window.plenaryReader.feed.after")
        page.wait_for_timeout(50)
    page.evaluate("window.plenaryReader.feed.stop()")
    missed = blog.post("Round table starts", session="roundtable")  # while the reader is away again
    page.evaluate("window.plenaryReader.feed.start()")
    expect(article(page, missed)).to_be_visible(timeout=5_000)
    assert watch.problems() == []


def test_injected_markup_never_runs(browser: Browser, blog: Blog) -> None:
    from playwright.sync_api import expect

    evil = {
        "text": '<script>window.__pwned = 1; alert(1)</script><img src=x onerror="window.__pwned = 2; alert(2)">'
        "[click](javascript:window.__pwned=3) <b onmouseover=alert(4)>bold</b> visible words",
        "quote": {"text": '<img src=x onerror="window.__pwned = 5">', "speaker": "<script>window.__pwned=6</script>"},
        "image": {
            "url": 'https://images.plenary.test/x.png"onerror="window.__pwned=7',
            "caption": "<svg onload=window.__pwned=8>",
            "alt": '"><img src=x onerror=window.__pwned=9>',
        },
        "tags": ["<img src=x onerror=window.__pwned=10>"],
        "key": True,
    }
    rendered = blog.post(**evil)
    page, watch = open_live(browser, blog.url)
    live = blog.post(**evil)
    expect(article(page, live)).to_be_visible(timeout=2_000)
    page.wait_for_timeout(300)  # give any injected handler the chance to run
    for update in (rendered, live):
        box = article(page, update)
        expect(box.locator(".update-text")).to_contain_text("visible words")
        expect(box.locator("script, svg, b, [onerror], [onload], [onmouseover]")).to_have_count(0)
        expect(box.locator('a[href^="javascript" i]')).to_have_count(0)
        expect(box.locator(".pull-quote figcaption")).to_have_text("<script>window.__pwned=6</script>")
        expect(box.locator(".update-image img")).to_have_attribute("alt", evil["image"]["alt"])
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert watch.dialogs == []
    # The key-events list takes the headline as text too.
    expect(page.locator("#key-events li")).to_have_count(2)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert watch.problems() == []


def test_key_events_filter_and_session_select(browser: Browser, blog: Blog) -> None:
    from playwright.sync_api import expect

    plain = blog.post("Coffee is served", session="keynote")
    key = blog.post("Creese announces a shared-services pilot", session="keynote", key=True)
    other = blog.post("Round table starts", session="roundtable")
    page, watch = open_live(browser, blog.url)
    expect(page.locator("#key-events li")).to_have_count(1)
    expect(page.locator("#key-events li a")).to_have_attribute("href", f"#u-{key['id']}")

    page.get_by_label("Key events only").check()
    expect(article(page, plain)).to_be_hidden()
    expect(article(page, key)).to_be_visible()
    assert "key=1" in page.url
    live_key = blog.post("Budget cut of 28% confirmed", key=True)
    live_plain = blog.post("Lunch")
    expect(article(page, live_key)).to_be_visible(timeout=2_000)
    expect(article(page, live_plain)).to_be_attached(timeout=2_000)
    expect(article(page, live_plain)).to_be_hidden()
    expect(page.locator("#key-events li")).to_have_count(2)
    expect(page.locator("#key-events li").first).to_contain_text("Budget cut of 28% confirmed")
    page.get_by_label("Key events only").uncheck()
    expect(article(page, plain)).to_be_visible()

    page.get_by_label("Session").select_option("roundtable")
    page.wait_for_url(re.compile(r"session=roundtable"))
    expect(page.locator("#updates > article")).to_have_count(1)
    expect(article(page, other)).to_be_visible()
    page.locator("#status").filter(has_text="Live").wait_for()
    blog.post("Not in this session", session="keynote")
    in_session = blog.post("Ann Brown: savings are real", session="roundtable")
    expect(article(page, in_session)).to_be_visible(timeout=2_000)
    expect(page.locator("#updates > article")).to_have_count(2)
    assert watch.problems() == []


def test_new_updates_wait_behind_a_button_when_scrolled(browser: Browser, blog: Blog) -> None:
    from playwright.sync_api import expect

    for n in range(24):
        blog.post(f"Update number {n}: the panel discusses shared services, budgets and what residents expect.")
    page, watch = open_live(browser, blog.url, width=390, height=844)
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_timeout(100)
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 1000
    first_visible = page.evaluate("document.elementFromPoint(195, 400).closest('article')?.id")

    fresh = [blog.post("Breaking: a new pilot is announced"), blog.post("And a second one")]
    button = page.locator("#new-updates")
    expect(button).to_have_text("2 new updates", timeout=2_000)
    expect(button).to_be_in_viewport()
    expect(article(page, fresh[0])).to_have_count(0)  # held back: the page does not move
    assert page.evaluate("window.scrollY") == scrolled
    assert page.evaluate("document.elementFromPoint(195, 400).closest('article')?.id") == first_visible
    expect(page.locator("#announcer")).to_have_text("2 new updates above")

    button.click()
    expect(button).to_be_hidden()
    expect(article(page, fresh[1])).to_be_in_viewport()
    expect(page.locator("#updates > article").first).to_have_id(f"u-{fresh[1]['id']}")
    # At the top, new updates go straight in.
    third = blog.post("Third, seen straight away")
    expect(article(page, third)).to_be_visible(timeout=2_000)
    expect(button).to_be_hidden()
    assert watch.problems() == []


def test_falls_back_to_server_sent_events(browser: Browser, blog: Blog) -> None:
    from playwright.sync_api import expect

    page, watch = new_page(browser)
    page.add_init_script("delete window.WebSocket")
    page.goto(blog.url)
    page.locator("#status").filter(has_text="Live").wait_for()
    update = blog.post("Delivered over SSE")
    expect(article(page, update)).to_be_visible(timeout=2_000)
    assert page.evaluate("window.plenaryReader.feed.transport") == "sse"
    blog.api.edit(EVENT_ID, update["id"], text="Edited over SSE")
    expect(article(page, update).locator(".update-text")).to_have_text("Edited over SSE", timeout=2_000)
    assert watch.problems() == []


def test_page_works_without_javascript(browser: Browser, blog: Blog) -> None:
    from playwright.sync_api import expect

    keynote = blog.post("Opening keynote", session="keynote", key=True)
    roundtable = blog.post("Round table", session="roundtable")
    page, watch = new_page(browser, javascript=False)
    page.goto(blog.url)
    expect(page.locator("#updates > article")).to_have_count(2)
    expect(page.locator("#status")).to_be_hidden()
    page.get_by_label("Session").select_option("roundtable")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"session=roundtable"))
    expect(page.locator("#updates > article")).to_have_count(1)
    expect(article(page, roundtable)).to_be_visible()
    page.get_by_label("Session").select_option("")
    page.get_by_label("Key events only").check()
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"key=1"))
    expect(article(page, keynote)).to_be_visible()
    expect(article(page, roundtable)).to_be_hidden()
    assert watch.problems() == []


def test_screenshots_phone_and_desktop(browser: Browser, blog: Blog) -> None:
    from playwright.sync_api import expect

    blog.post("Good morning from **the NEC** in Birmingham: day two of SOCITM 2011 starts at nine.")
    blog.post(
        "Jos Creese opens: councils must be *digital by default*, and the savings are in the back office.",
        session="keynote",
        key=True,
    )
    blog.post(
        quote={"text": "Digital is not an IT project. It is how we run the council.", "speaker": "Jos Creese, Socitm"},
        session="keynote",
    )
    blog.post(
        "A full hall for the keynote.",
        image={"url": f"{IMAGES}/hall.png", "caption": "Hall 1 before the keynote", "alt": "A stage lit in amber"},
        session="keynote",
        tags=["keynote"],
    )
    pinned = blog.post("Follow the round tables here all day; [the agenda](https://example.org/agenda) is online.")
    blog.api.edit(EVENT_ID, pinned["id"], pinned=True)
    blog.post("Ann Brown: shared services saved Brent **£1.2m** in the first year.", session="roundtable", key=True)
    images = {"/hall.png": stage_photo()}
    for name, width, height, dark in (("reader-phone.png", 390, 844, False), ("reader-desktop.png", 1280, 900, False),
                                      ("reader-phone-dark.png", 390, 844, True)):  # fmt: skip
        page, watch = open_live(browser, blog.url, width=width, height=height, dark=dark, images=images)
        expect(page.locator("#pinned article")).to_have_id(f"u-{pinned['id']}")
        page.locator(".update-image img").scroll_into_view_if_needed()
        page.wait_for_function("[...document.images].every((i) => i.complete && i.naturalWidth > 0)")
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, name, full_page=width < 600)
        assert watch.problems() == []
        page.context.close()
