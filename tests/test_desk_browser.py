"""The reporter and editor desks in headless Chromium against real `python -m server` processes."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest

from clients.demo import replay
from clients.demo_day import DAY
from clients.demo_day import EVENT_ID as DEMO_EVENT

from browser import IMAGES, Api, Watch, chromium, new_page, screenshot, stage_photo
from conftest import ADMIN, ADMIN_TOKEN, EVENT, LiveServer
from test_browser import Blog, make_blog, open_live

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

EVENT_ID = EVENT["id"]
LONDON = dt.timezone(dt.timedelta(hours=1))  # BST, as Europe/London in October 2011
#: The desk's clock: during the keynote (09:00) of the blog made by test_browser.make_blog.
DURING_KEYNOTE = dt.datetime(2011, 10, 11, 9, 20, tzinfo=LONDON)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def token(api: Api, name: str, role: str, event: str = EVENT_ID) -> str:
    created: dict[str, Any] = api.call("POST", "/api/tokens", {"name": name, "role": role, "events": [event]},
                                       expect=201)  # fmt: skip
    return str(created["token"])


def open_desk(browser: Browser, url: str, secret: str, *, at: dt.datetime | None = DURING_KEYNOTE,
              **options: Any) -> tuple[Page, Watch]:  # fmt: skip
    """A desk page, its clock set to ``at`` (then running), signed in with ``secret`` through the form."""
    from playwright.sync_api import expect

    page, watch = new_page(browser, **options)
    if at is not None:
        page.clock.install(time=at)
    page.goto(url)
    page.get_by_label("Token").fill(secret)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#desk")).to_be_visible()
    assert secret not in page.url
    return page, watch


def updates(api: Api, event: str = EVENT_ID) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.call("GET", f"/api/events/{event}/updates?limit=200", expect=200)["updates"]
    return found


def when(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_injected_markup_never_runs_on_the_desks(browser: Browser, blog: Blog) -> None:
    from playwright.sync_api import expect

    evil = {
        "text": '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> visible words',
        "quote": {"text": '<img src=x onerror="window.__pwned = 3">', "speaker": "<script>window.__pwned=4</script>"},
        "tags": ["<img src=x onerror=window.__pwned=5>"],
        "session": "keynote",
    }
    before = blog.post(**evil)
    desk, watch = open_desk(browser, f"{blog.server.url}/desk/events/{EVENT_ID}", token(blog.api, "Drew", "reporter"))
    live = blog.post(**evil)
    for update in (before, live):
        box = desk.locator(f"#feed #u-{update['id']}")
        expect(box).to_contain_text("visible words", timeout=5_000)
        expect(box.locator("script, img[src=x], [onerror]")).to_have_count(0)
    editor, editor_watch = open_desk(browser, f"{blog.server.url}/desk/events/{EVENT_ID}/days/2011-10-11",
                                     token(blog.api, "Eve", "editor"))  # fmt: skip
    for page in (desk, editor):
        assert page.evaluate("typeof window.__pwned") == "undefined"
    assert watch.problems() == [] and editor_watch.problems() == [] and watch.dialogs == []


def test_reporter_posts_edits_and_a_reader_sees_it(browser: Browser, blog: Blog) -> None:
    from playwright.sync_api import expect

    secret = token(blog.api, "Drew", "reporter")
    other = blog.post("Doors open in Hall 1", session="keynote")  # posted by someone else (admin)
    desk, watch = open_desk(browser, f"{blog.server.url}/desk/events/{EVENT_ID}", secret)
    reader, reader_watch = open_live(browser, blog.url)
    expect(desk.locator("#who")).to_have_text("Signed in as Drew (reporter)")
    expect(desk.get_by_label("Session")).to_have_value("keynote")  # running at 09:20 in Europe/London
    expect(desk.locator("#speakers option")).to_have_attribute("value", "Jos Creese")
    expect(desk.locator("#status")).to_have_text("Live")
    expect(desk.locator(f"#feed #u-{other['id']}")).to_be_visible()  # the live feed beside the composer

    text = desk.get_by_role("textbox", name=re.compile("^Update"))
    text.fill("Jos Creese: councils must be **digital by default**")
    expect(desk.locator("#preview .update-text strong")).to_have_text("digital by default")  # live preview
    desk.get_by_label("Key moment").check()
    desk.locator("#extras summary").click()
    desk.get_by_label("Quote").fill("Digital is how we run the council.")
    desk.get_by_label("Speaker").fill("Jos Creese")
    desk.get_by_label("Tags").fill("keynote, digital")
    text.focus()
    desk.keyboard.press("Control+Enter")
    expect(text).to_have_value("")
    expect(text).to_be_focused()
    expect(desk.locator("#outbox-summary")).to_have_text("Nothing waiting to be sent.")

    [posted] = [u for u in updates(blog.api) if u["author"]["name"] == "Drew"]
    assert posted["session"] == "keynote" and posted["key"] is True and posted["tags"] == ["keynote", "digital"]
    assert posted["quote"] == {"text": "Digital is how we run the council.", "speaker": "Jos Creese"}
    assert abs(when(posted["happened_at"]) - DURING_KEYNOTE) < dt.timedelta(seconds=30)
    box = reader.locator(f"#u-{posted['id']}")
    expect(box.locator(".update-text strong")).to_have_text("digital by default", timeout=3_000)
    expect(box.locator(".badge-key")).to_be_visible()
    expect(desk.locator(f"#feed #u-{posted['id']}")).to_have_class(re.compile("is-mine"))

    # Edit one's own update from "Your recent updates"; the reader sees the edit.
    mine = desk.locator(f"#mine li[data-id='{posted['id']}']")
    mine.get_by_role("button", name=re.compile("^Edit")).click()
    desk.get_by_label("Edit the text").fill("Jos Creese: councils must be *digital by default*, corrected")
    desk.get_by_role("button", name="Save").click()
    expect(box.locator(".update-text em")).to_have_text("digital by default", timeout=3_000)
    expect(mine).to_contain_text("corrected")

    # A refused post (too long) stays in the outbox with the server's reason, and comes back for editing.
    long_text = "word " * 2_001
    text.fill(long_text)
    expect(desk.locator("#text-count")).to_have_class(re.compile("over"))
    desk.get_by_role("button", name="Post", exact=True).click()
    refused = desk.locator("#outbox li[data-state='refused']")
    expect(refused).to_have_count(1)
    expect(refused.locator(".problem")).to_contain_text("text")
    expect(refused.locator(".problem")).to_contain_text("10000")
    expect(desk.locator("#outbox-summary")).to_have_text("1 refused.")
    assert len(updates(blog.api)) == 2
    desk.reload()  # the refused post survives a reload
    expect(desk.locator("#outbox li[data-state='refused']")).to_have_count(1)
    desk.locator("#outbox").get_by_role("button", name="Edit and post again").click()
    expect(desk.get_by_role("textbox", name=re.compile("^Update"))).to_have_value(long_text.strip())
    expect(desk.locator("#outbox li")).to_have_count(0)  # out of the outbox, back in the composer

    # Delete from the desk (two steps, no dialog).
    mine = desk.locator(f"#mine li[data-id='{posted['id']}']")
    mine.get_by_role("button", name=re.compile("^Delete")).click()
    mine.get_by_role("button", name=re.compile("^Confirm delete")).click()
    expect(box).to_have_count(0, timeout=3_000)
    expect(desk.locator("#mine-empty")).to_be_visible()
    assert watch.problems() == [] and reader_watch.problems() == [] and watch.dialogs == []


def test_offline_posts_survive_a_reload_and_arrive_once_in_order(browser: Browser, blog: Blog) -> None:
    from playwright.sync_api import expect

    secret = token(blog.api, "Howard", "reporter")
    desk, watch = open_desk(browser, f"{blog.server.url}/desk/events/{EVENT_ID}", secret)
    expect(desk.locator("#status")).to_have_text("Live")
    desk.context.set_offline(True)
    texts = ["Offline one: the panel sits down", "Offline two: Ann Brown speaks", "Offline three: questions"]
    for n, line in enumerate(texts):
        desk.get_by_role("textbox", name=re.compile("^Update")).fill(line)
        desk.keyboard.press("Control+Enter")
        expect(desk.locator("#outbox li[data-state='pending']")).to_have_count(n + 1)
        desk.clock.run_for(61_000)  # a minute passes between posts
    expect(desk.locator("#outbox-summary")).to_have_text("3 waiting to send (offline).")
    kept = desk.evaluate(f"JSON.parse(localStorage.getItem('plenary.outbox.{EVENT_ID}'))")
    assert [i["body"]["text"] for i in kept] == texts
    assert all(secret not in str(i) for i in kept)
    assert updates(blog.api) == []

    # Back on the network but the API still unreachable; the first post gets through while its answer is lost.
    lost: list[str] = []

    def flaky(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
        elif not lost:
            lost.append(route.request.headers["idempotency-key"])
            route.fetch()  # the server stores it...
            route.abort()  # ...and the desk never hears back
        else:
            route.abort()

    desk.route("**/api/events/*/updates", flaky)
    desk.context.set_offline(False)
    desk.reload()
    expect(desk.locator("#desk")).to_be_visible()  # still signed in: the token is kept for the tab
    expect(desk.locator("#outbox li[data-state='pending']")).to_have_count(3)
    desk.wait_for_function("() => document.querySelector('#outbox .hint')?.textContent.includes('retrying')")
    deadline = time.monotonic() + 10  # the hint may predate the first attempt: wait for that attempt itself
    while not (lost and updates(blog.api)) and time.monotonic() < deadline:
        desk.wait_for_timeout(100)  # route handlers run while Playwright waits
    assert len(updates(blog.api)) == 1 and lost
    desk.unroute("**/api/events/*/updates")
    desk.get_by_role("button", name="Send now").click()
    expect(desk.locator("#outbox li[data-state='pending']")).to_have_count(0, timeout=10_000)
    expect(desk.locator("#outbox li[data-state='sent']")).to_have_count(3)
    desk.wait_for_timeout(500)  # nothing else goes out
    arrived = updates(blog.api)
    assert [u["text"] for u in arrived] == texts  # exactly three, none twice, in order
    for update, item in zip(arrived, kept, strict=True):
        assert when(update["happened_at"]) == when(item["body"]["happened_at"])  # when Post was pressed
    stamps = [when(u["happened_at"]) for u in arrived]
    assert stamps[1] - stamps[0] >= dt.timedelta(minutes=1) and stamps[2] - stamps[1] >= dt.timedelta(minutes=1)
    assert desk.evaluate(f"localStorage.getItem('plenary.outbox.{EVENT_ID}')") == "[]"
    expect(desk.locator("#mine li")).to_have_count(3)
    assert watch.problems() == []


def phone_photo() -> bytes:
    """A JPEG as a phone writes it: landscape pixels, orientation 6 (turn to portrait), GPS where it was taken."""
    import io

    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (52.0, 27.0, 10.0), 3: "W", 4: (1.0, 43.0, 30.0)}
    out = io.BytesIO()
    Image.new("RGB", (1200, 900), (200, 120, 40)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_photo_from_the_phone_waits_offline_and_is_posted_once(browser: Browser, blog: Blog) -> None:
    from playwright.sync_api import expect

    secret = token(blog.api, "Flo", "reporter")
    desk, watch = open_desk(browser, f"{blog.server.url}/desk/events/{EVENT_ID}", secret, width=390, height=844)
    expect(desk.locator("#status")).to_have_text("Live")
    assert desk.locator("#photo-camera").get_attribute("capture") == "environment"
    assert desk.locator("#photo-library").get_attribute("accept") == "image/*"
    desk.context.set_offline(True)
    desk.locator("#photo-library").set_input_files(files=[{"name": "IMG_0042.jpg", "mimeType": "image/jpeg",
                                                           "buffer": phone_photo()}])  # fmt: skip
    expect(desk.locator("#photo-name")).to_contain_text("IMG_0042.jpg")
    desk.get_by_label(re.compile("^Alt text")).fill("The stage before the keynote")
    desk.get_by_role("textbox", name=re.compile("^Update")).fill("The stage is set")
    desk.get_by_role("button", name="Post", exact=True).click()
    expect(desk.locator("#outbox li[data-state='pending']")).to_have_count(1)
    expect(desk.locator("#photo-chosen")).to_be_hidden()  # the composer is clear for the next one
    assert updates(blog.api) == []
    desk.context.set_offline(False)
    expect(desk.locator("#outbox li[data-state='sent']")).to_have_count(1, timeout=10_000)
    desk.wait_for_timeout(500)  # nothing else goes out
    arrived = updates(blog.api)
    assert len(arrived) == 1 and arrived[0]["text"] == "The stage is set"
    image = arrived[0]["image"]
    assert image["alt"] == "The stage before the keynote" and "/media/socitm-2011/" in image["url"]
    assert (image["width"], image["height"]) == (900, 1200)  # turned upright
    assert desk.evaluate("new Promise((r) => { const q = indexedDB.open('plenary-desk'); q.onsuccess = () => "
                         "{ const g = q.result.transaction('photos').objectStore('photos').count(); "
                         "g.onsuccess = () => r(g.result); }; })") == 0  # fmt: skip
    expect(desk.locator(f"#feed #u-{arrived[0]['id']} img")).to_have_count(1)
    assert watch.problems() == []


def test_desk_reloads_without_the_server_and_posts_once_when_it_is_back(
    browser: Browser, live_server_factory: Callable[..., LiveServer]
) -> None:
    from playwright.sync_api import expect

    server = live_server_factory()
    blog = make_blog(server)
    secret = token(blog.api, "Gill", "reporter")
    url = f"{server.url}/desk/events/{EVENT_ID}"
    desk, watch = open_desk(browser, url, secret, service_workers=True)
    expect(desk.locator("#status")).to_have_text("Live")
    kept = "async () => { const c = await caches.open('plenary-desk-v1'); const k = await c.keys();"
    kept += " return k.map((r) => new URL(r.url).pathname); }"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        paths = desk.evaluate(kept)
        if f"/desk/events/{EVENT_ID}" in paths and "/static/reporter.js" in paths and "/static/reader.js" in paths:
            break
        desk.wait_for_timeout(100)
    else:
        raise AssertionError(f"the shell was not kept: {paths}")
    assert desk.evaluate("navigator.serviceWorker.controller !== null")
    port = int(server.url.rsplit(":", 1)[1])
    server.stop()  # the network is gone for the worker too: only its cache can answer
    response = desk.reload()
    assert response is not None and response.from_service_worker
    expect(desk.locator("#desk")).to_be_visible()  # the shell opened offline, still signed in for the tab
    desk.get_by_role("textbox", name=re.compile("^Update")).fill("Written with the server down")
    desk.keyboard.press("Control+Enter")
    expect(desk.locator("#outbox li[data-state='pending']")).to_have_count(1)
    live_server_factory(port=port)  # back, on the same store
    desk.wait_for_function("() => window.plenaryDesk !== undefined", timeout=15_000)
    desk.evaluate("window.plenaryDesk.outbox.flush({ now: true })")  # as "Send now" (it may have gone already)
    expect(desk.locator("#outbox li[data-state='sent']")).to_have_count(1, timeout=10_000)
    desk.wait_for_timeout(500)  # nothing else goes out
    assert [u["text"] for u in updates(blog.api)] == ["Written with the server down"]  # exactly once
    problems = [p for p in watch.problems() if "the desk will not open offline" not in p]
    assert problems == [], problems


def test_another_origin_cannot_post_with_the_desk_sign_in(browser: Browser, blog: Blog) -> None:
    from playwright.sync_api import expect

    secret = token(blog.api, "Drew", "reporter")
    desk, _watch = open_desk(browser, f"{blog.server.url}/desk/events/{EVENT_ID}", secret)
    assert desk.context.cookies() == []  # no ambient credential a cross-site request could carry
    target = f"{blog.server.url}/api/events/{EVENT_ID}/updates"
    evil_origin = blog.server.url.replace("127.0.0.1", "localhost")
    attack = f"""<!doctype html><title>evil</title><form id="f" method="post" action="{target}"
        enctype="text/plain"><input name='{{"text":"form post","x":"' value='"}}'></form><script>
      window.result = (async () => {{
        const out = {{ stolen: sessionStorage.length + localStorage.length }};
        try {{
          const r = await fetch("{target}", {{ method: "POST", credentials: "include",
            headers: {{ "Content-Type": "application/json" }}, body: JSON.stringify({{ text: "cors post" }}) }});
          out.cors = r.status;
        }} catch (e) {{ out.cors = "refused"; }}
        try {{
          await fetch("{target}", {{ method: "POST", mode: "no-cors", credentials: "include",
            body: JSON.stringify({{ text: "no-cors post" }}) }});
          out.nocors = "sent blind";
        }} catch (e) {{ out.nocors = "refused"; }}
        return out;
      }})();
    </script>"""
    evil = desk.context.new_page()
    evil.route(f"{evil_origin}/attack", lambda route: route.fulfill(status=200, body=attack,
                                                                    content_type="text/html"))  # fmt: skip
    evil.goto(f"{evil_origin}/attack")
    result = evil.evaluate("window.result")
    assert result["stolen"] == 0  # another origin sees none of the desk's storage
    assert result["cors"] in ("refused", 401)
    with evil.expect_navigation():
        evil.evaluate("document.getElementById('f').submit()")
    assert "Unauthorized" in evil.content() or "Unsupported" in evil.content()
    assert updates(blog.api) == []
    # The desk itself still posts.
    desk.get_by_role("textbox", name=re.compile("^Update")).fill("Still fine")
    desk.keyboard.press("Control+Enter")
    expect(desk.locator("#outbox li[data-state='sent']")).to_have_count(1)
    assert [u["text"] for u in updates(blog.api)] == ["Still fine"]
    assert secret not in blog.server.log.read_text(errors="replace")


def test_editor_compiles_resolves_a_conflict_and_publishes(
    browser: Browser, live_server_factory: Callable[..., LiveServer]
) -> None:
    from playwright.sync_api import expect

    server = live_server_factory(PLENARY_RUN_WORKER="true")
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
        pool.submit(asyncio.run, replay(server.url, ADMIN_TOKEN)).result(timeout=30)
    admin = Api(server.url, ADMIN)
    secret = token(admin, "Eda", "editor", DEMO_EVENT)
    day_before = {"text": "Pinned the day before", "happened_at": "2025-10-08T10:00:00+01:00"}
    earlier = admin.call("POST", f"/api/events/{DEMO_EVENT}/updates", day_before, expect=201)
    admin.call("PATCH", f"/api/events/{DEMO_EVENT}/updates/{earlier['id']}", {"pinned": True}, expect=200)
    url = f"{server.url}/desk/events/{DEMO_EVENT}/days/{DAY}"
    page, watch = open_desk(browser, url, secret, at=None)
    expect(page.locator("#pinned")).to_contain_text("Pinned the day before")  # the event's pin, from any day
    status = page.locator("#post-status")
    expect(status).to_contain_text("No draft")
    page.get_by_role("button", name="Compile", exact=True).click()
    expect(status).to_contain_text("Version 1", timeout=20_000)
    expect(page.get_by_role("button", name="Recompile", exact=True)).to_be_visible()
    expect(page.locator("#preview .traced").first).to_be_visible()

    # What the compiler left out is listed beside the preview; "Put it back" restores it in the Markdown.
    left_out = page.locator("#left-out")
    expect(left_out).to_contain_text("logistics chatter")
    expect(left_out).to_contain_text("said again in: Tom Reddy says North Marsh")  # the repeat, and where
    left_out.locator("li", has_text="Wi-fi is back").get_by_role("button", name=re.compile("^Put it back")).click()
    expect(page.locator("#preview")).to_contain_text("Wi-fi is back in the Exchange Hall")
    expect(left_out.locator("li", has_text="Wi-fi is back")).to_have_count(0)
    assert re.search(r"<!-- updates: \S+ -->\nWi-fi is back", page.locator("#markdown").input_value())

    # Traceability: a paragraph shows the updates it came from; pin one of them from there.
    block = page.locator("#preview .traced").first
    ids = str(block.get_attribute("data-updates")).split()
    block.click()
    expect(page.locator("#sources-list .update")).to_have_count(len(ids))
    page.locator("#sources-list").get_by_role("button", name=re.compile("^Pin")).first.click()
    expect(page.locator("#pinned")).not_to_contain_text("Pinned the day before")  # the pin moved
    expect(page.locator("#pinned .update")).to_have_count(1)
    expect(page.locator("#pinned .badge-pinned")).to_be_visible()
    pinned = [u for u in updates(admin, DEMO_EVENT) if u["pinned"]]
    assert len(pinned) == 1 and pinned[0]["id"] in ids
    page.locator("#pinned").get_by_role("button", name=re.compile("^Unpin")).click()
    expect(page.locator("#pinned")).to_contain_text("Nothing is pinned")

    # Edit; meanwhile a second editor saves through the API; our save shows both versions.
    editor = page.locator("#markdown")
    mine = editor.input_value() + "\nEdited at the desk: the day in one line.\n"
    editor.fill(mine)
    expect(page.locator("#preview")).to_contain_text("Edited at the desk", timeout=3_000)
    draft = admin.call("GET", f"/api/events/{DEMO_EVENT}/days/{DAY}/reflections", expect=200)
    theirs = draft["markdown"] + "\nA second editor's line.\n"
    admin.call("PUT", f"/api/events/{DEMO_EVENT}/days/{DAY}/reflections", {"markdown": theirs, "version": 1},
               expect=200)  # fmt: skip
    page.keyboard.press("Control+s")
    conflict = page.locator("#conflict")
    expect(conflict).to_be_visible()
    expect(page.locator("#conflict-mine")).to_contain_text("Edited at the desk")
    expect(page.locator("#conflict-theirs")).to_contain_text("A second editor's line")
    assert admin.call("GET", f"/api/events/{DEMO_EVENT}/days/{DAY}/reflections")["markdown"] == theirs  # kept
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(page, "desk-editor-conflict.png")
    page.get_by_role("button", name="Keep mine (save over version 2)").click()
    expect(conflict).to_be_hidden()
    expect(status).to_contain_text("Version 3")
    saved = admin.call("GET", f"/api/events/{DEMO_EVENT}/days/{DAY}/reflections")
    assert "Edited at the desk" in saved["markdown"] and "second editor" not in saved["markdown"]

    # Recompiling over an edited draft asks first.
    page.get_by_role("button", name="Recompile", exact=True).click()
    expect(page.locator("#replace-confirm")).to_be_visible()
    page.get_by_role("button", name="Keep the edits").click()
    expect(page.locator("#replace-confirm")).to_be_hidden()

    # The day's sessions: add, edit, delete.
    page.get_by_role("button", name="Add a session").click()
    page.locator("#s-id").fill("wrap-up")
    page.locator("#s-title").fill("Wrap-up")
    page.get_by_label("Starts").fill("17:00")
    page.get_by_label("Speakers").fill("Eda Editor, Host, Plenary")
    page.get_by_role("button", name="Save the session").click()
    item = page.locator("#sessions-list li[data-id='wrap-up']")
    expect(item).to_contain_text("17:00")
    session = admin.call("GET", f"/api/events/{DEMO_EVENT}/sessions?day={DAY}")["sessions"]
    added = next(s for s in session if s["id"] == "wrap-up")
    assert added["starts_at"].startswith(f"{DAY}T16:00:00") or added["starts_at"].startswith(f"{DAY}T17:00:00+01")
    assert added["speakers"] == [{"name": "Eda Editor", "role": "Host", "organisation": "Plenary"}]
    item.get_by_role("button", name=re.compile("^Edit")).click()
    page.locator("#s-title").fill("Wrap-up and thanks")
    page.get_by_role("button", name="Save the session").click()
    expect(item).to_contain_text("Wrap-up and thanks")
    item.get_by_role("button", name=re.compile("^Delete")).click()
    item.get_by_role("button", name=re.compile("^Confirm delete")).click()
    expect(item).to_have_count(0)

    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "desk-editor-desktop.png")
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(status).to_contain_text("published")
    link = page.get_by_role("link", name="Open the public page")
    expect(link).to_have_attribute("href", f"/events/{DEMO_EVENT}/days/{DAY}/reflections")

    reader, reader_watch = open_live(browser, f"{server.url}/events/{DEMO_EVENT}")
    post_path = f"/events/{DEMO_EVENT}/days/{DAY}/reflections"
    expect(reader.locator(".reflections-links a")).to_have_attribute("href", post_path)
    phone, _ = open_desk(browser, url, secret, at=None, width=390, height=844)
    expect(phone.locator("#post-status")).to_contain_text("published")
    screenshot(phone, "desk-editor-phone.png", full_page=False)
    assert watch.problems() == [] and reader_watch.problems() == []


def test_screenshots_of_the_reporter_desk(browser: Browser, blog: Blog) -> None:
    from playwright.sync_api import expect

    secret = token(blog.api, "Drew", "reporter")
    blog.post("Good morning from **the NEC**: day two of SOCITM 2011 starts at nine.")
    blog.post("Jos Creese opens: councils must be *digital by default*.", session="keynote", key=True)
    image = {"url": f"{IMAGES}/hall.png", "caption": "Hall 1 before the keynote", "alt": "A lit stage"}
    blog.post("A full hall for the keynote.", session="keynote", image=image)
    images = {"/hall.png": stage_photo()}
    for name, width, height in (("desk-reporter-desktop.png", 1280, 900), ("desk-reporter-phone.png", 390, 844)):
        page, watch = open_desk(browser, f"{blog.server.url}/desk/events/{EVENT_ID}", secret, width=width,
                                height=height, images=images)  # fmt: skip
        expect(page.locator("#status")).to_have_text("Live")
        composer = page.get_by_role("textbox", name=re.compile("^Update"))
        composer.fill("Ann Brown: shared services saved Brent **£1.2m** in the first year.")
        page.get_by_label("Key moment").check()
        expect(page.locator("#preview .update-text strong")).to_have_text("£1.2m")  # the server's html is back
        page.evaluate(f"localStorage.setItem('plenary.outbox.{EVENT_ID}', JSON.stringify([{{key: 'k1', author: 'Drew',"
                      " state: 'refused', problem: 'text: String should have at most 10000 characters',"
                      " body: {text: 'A very long draft…', happened_at: '2011-10-11T08:15:00Z'}}]))")  # fmt: skip
        page.evaluate("window.dispatchEvent(new StorageEvent('storage', {key: 'plenary.outbox.socitm-2011'}))")
        expect(page.locator("#outbox li[data-state='refused']")).to_have_count(1)
        page.wait_for_function("[...document.images].every((i) => i.complete && i.naturalWidth > 0)")
        screenshot(page, name, full_page=width < 600)
        assert watch.problems() == []
        page.context.close()


@pytest.fixture
def blog(live_server: LiveServer) -> Blog:
    return make_blog(live_server)
