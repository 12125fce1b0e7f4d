"""The reader page in a real browser: live updates, scrolling, accessibility and CSP.

Every write goes through the real HTTP API to a real server on loopback, and the page under
test is Debian's chromium driven by Playwright, so these tests see what a reader would see.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Locator, expect

from browser import (
    CSP_WATCH,
    SLUG,
    Newsroom,
    Watched,
    assert_not_moved,
    entry,
    open_blog,
)
from conftest import LiveServer, Tokens

expect.set_options(timeout=5000)  # live changes show within a second; this is slack for CI


@pytest.fixture
def reader(browser: Browser, live: LiveServer) -> Iterator[Watched]:
    """A fresh browser context (own cookies, storage, cache) with one page, watched; it closes
    before the server stops, so no stream is left open at shutdown."""
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    page = context.new_page()
    page.add_init_script(CSP_WATCH)
    watched = Watched(page)
    page.on("console", watched.on_console)
    page.on("pageerror", lambda exc: watched.errors.append(f"uncaught: {exc}"))
    page.on("request", watched.on_request)
    yield watched
    context.close()


@pytest.fixture
def newsroom(live: LiveServer, tokens: Tokens, blog: dict[str, Any]) -> Iterator[Newsroom]:
    room = Newsroom(live, tokens.editor)
    yield room
    room.client.close()


def test_published_entry_appears_without_reload(
    reader: Watched, live: LiveServer, newsroom: Newsroom
) -> None:
    """A reader with the page open sees a new entry appear at the top, without a reload."""
    first = newsroom.publish("Polls have opened.")
    page = open_blog(reader, live)
    page.evaluate("window.__notReloaded = true")

    second = newsroom.publish("Turnout is *high*.", headline="Turnout")

    expect(entry(page, second["id"])).to_contain_text("Turnout is high.")
    expect(page.locator("#entries article.entry").first).to_have_id(f"entry-{second['id']}")
    expect(page.locator("#entries article.entry")).to_have_count(2)
    expect(entry(page, first["id"])).to_be_visible()
    assert page.evaluate("window.__notReloaded") is True
    assert reader.errors == []


def test_live_entry_matches_server_rendered_entry(
    reader: Watched, live: LiveServer, newsroom: Newsroom
) -> None:
    """An entry that arrived live looks exactly as it does after a reload."""
    page = open_blog(reader, live)
    created = newsroom.publish("Results from **Ward 7**.", headline="Ward 7", key_event=True)
    article = entry(page, created["id"])
    expect(article).to_contain_text("Ward 7")
    seen_live = describe(article)

    page.reload()
    expect(article).to_be_visible()
    assert describe(article) == seen_live


def describe(article: Locator) -> dict[str, Any]:
    """What a reader or a screen reader gets from an entry, independent of attribute order."""
    return {
        "text": article.inner_text(),
        "class": article.get_attribute("class"),
        "name": article.get_attribute("aria-labelledby"),
        "link": article.locator(".entry-time").get_attribute("href"),
        "headline": article.locator(".entry-headline").evaluate("h => h.outerHTML"),
    }


def test_retracted_entry_disappears_or_leaves_its_note(
    reader: Watched, live: LiveServer, newsroom: Newsroom
) -> None:
    """A retracted entry vanishes from an open page; with a public note, the note shows instead."""
    quiet = newsroom.publish("A rumour we should not have published.")
    noted = newsroom.publish("The wrong district's result.")
    kept = newsroom.publish("A correct result.")
    page = open_blog(reader, live)
    expect(page.locator("#entries article.entry")).to_have_count(3)

    newsroom.retract(quiet)
    expect(entry(page, quiet["id"])).to_have_count(0)
    expect(page.get_by_text("A rumour we should not")).to_have_count(0)

    newsroom.retract(noted, public_note="This result belonged to another district.")
    tombstone = entry(page, noted["id"])
    expect(tombstone).to_have_class(re.compile(r"\btombstone\b"))
    expect(tombstone).to_contain_text("This result belonged to another district.")
    expect(page.get_by_text("The wrong district")).to_have_count(0)
    expect(entry(page, kept["id"])).to_be_visible()

    pinned = newsroom.publish("How to follow tonight.", pinned=True)
    expect(page.locator("#pinned")).to_contain_text("How to follow tonight.")
    newsroom.retract(pinned, public_note="Replaced by a new guide.")
    expect(page.locator("#pinned")).to_be_hidden()
    expect(page.locator(f"#entries #entry-{pinned['id']}")).to_have_text(
        re.compile("Replaced by a new guide.")
    )


def test_edit_with_correction_and_one_pin_at_a_time(
    reader: Watched, live: LiveServer, newsroom: Newsroom
) -> None:
    """An edit shows in place with its correction; pinning moves one entry into the pinned box."""
    a = newsroom.publish("Turnout was 40%.", headline="Turnout")
    b = newsroom.publish("Counting has begun.", headline="Counting")
    page = open_blog(reader, live)

    a = newsroom.edit(a, body="Turnout was 46%.", correction="We first said 40%.")
    article = entry(page, a["id"])
    expect(article).to_contain_text("Turnout was 46%.")
    expect(article.locator(".entry-correction")).to_be_visible()
    expect(article.locator(".entry-correction")).to_contain_text("We first said 40%.")
    expect(article.locator(".entry-updated")).to_be_visible()
    expect(page.locator("#entries article.entry")).to_have_count(2)

    pinned = page.locator("#pinned")
    a = newsroom.edit(a, pinned=True)
    expect(pinned.locator(f"#entry-{a['id']}")).to_be_visible()
    expect(pinned).to_contain_text("Pinned")
    newsroom.edit(b, pinned=True)
    expect(pinned.locator(f"#entry-{b['id']}")).to_be_visible()
    expect(pinned.locator("article")).to_have_count(1)
    expect(page.locator(f"#entries #entry-{a['id']}")).to_be_visible()
    expect(entry(page, a["id"]).locator(".flag-pinned")).to_be_hidden()
    assert page.locator("article.entry").count() == 2


def test_key_points_then_end_stops_the_stream(
    reader: Watched, live: LiveServer, newsroom: Newsroom
) -> None:
    """Key points change live; once the blog ends the banner shows and the page stops listening."""
    page = open_blog(reader, live)

    newsroom.change_blog(key_points=["Turnout at 46%", "Count under way"])
    expect(page.locator("#key-points-list li")).to_have_text(["Turnout at 46%", "Count under way"])

    newsroom.change_blog(status="ended")
    expect(page.locator("#ended-banner")).to_be_visible()
    expect(page.locator("#live-badge")).to_have_text("Ended")
    requests_at_end = len(reader.streams)
    # The server asks browsers to retry after 3000 ms; give a reconnect every chance to show.
    page.wait_for_timeout(4000)
    assert len(reader.streams) == requests_at_end == 1, reader.streams


def test_new_entry_waits_while_reader_is_scrolled_down(
    reader: Watched, live: LiveServer, newsroom: Newsroom
) -> None:
    """A reader deep in the page is not jolted: a button offers the update and then focuses it."""
    paragraph = "The count goes on through the night in every district of the city. " * 4
    for number in range(30):
        newsroom.publish(paragraph, headline=f"Update {number}")
    page = open_blog(reader, live)
    # Safari has no scroll anchoring; turn Chromium's off so a layout shift would show.
    page.evaluate("document.documentElement.style.overflowAnchor = 'none'")
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight / 2)")
    reading = page.locator("#entries article.entry").nth(15)
    before = page.evaluate("window.scrollY"), reading.bounding_box()

    fresh = newsroom.publish("Polls closed an hour ago.", headline="Fresh")

    button = page.locator("#new-updates")
    expect(button).to_be_visible()
    expect(button).to_have_text("Show 1 new update")
    expect(button).to_be_in_viewport()
    expect(entry(page, fresh["id"])).to_have_count(0)
    assert (page.evaluate("window.scrollY"), reading.bounding_box()) == before

    button.click()
    expect(entry(page, fresh["id"])).to_be_focused()
    expect(entry(page, fresh["id"])).to_be_in_viewport()
    expect(page.locator("#entries article.entry").first).to_have_id(f"entry-{fresh['id']}")
    expect(button).to_be_hidden()

    # Held again further down; scrolling back to the top shows it without moving focus.
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight / 2)")
    later = newsroom.publish("The first seat is declared.", headline="Later")
    expect(button).to_be_visible()
    page.evaluate("window.scrollTo(0, 0)")
    expect(page.locator("#entries article.entry").first).to_have_id(f"entry-{later['id']}")
    expect(button).to_be_hidden()
    expect(entry(page, later["id"])).not_to_be_focused()


def test_changes_above_the_reader_do_not_move_the_page(
    reader: Watched, live: LiveServer, newsroom: Newsroom
) -> None:
    """Edits, pins and retractions above what a reader is reading leave their place alone."""
    paragraph = "Counting continues in the northern districts tonight. " * 4
    entries = [newsroom.publish(paragraph, headline=f"Update {n}") for n in range(30)]
    page = open_blog(reader, live)
    page.evaluate("document.documentElement.style.overflowAnchor = 'none'")
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight / 2)")
    reading = page.locator(f"#{page.locator('#entries article.entry').nth(15).get_attribute('id')}")
    where = reading.bounding_box()
    newest, second, third = entries[-1], entries[-2], entries[-3]

    newsroom.edit(newest, body=paragraph * 3)
    expect(entry(page, newest["id"]).locator(".entry-updated")).to_be_attached()
    expect(entry(page, newest["id"])).to_have_attribute("data-version", "2")
    assert_not_moved(reading, where)
    newsroom.retract(second)
    expect(entry(page, second["id"])).to_have_count(0)
    assert_not_moved(reading, where)
    newsroom.retract(third, public_note="Withdrawn.")
    expect(entry(page, third["id"])).to_have_class("tombstone")
    assert_not_moved(reading, where)
    newsroom.edit(entries[0], pinned=True)
    expect(page.locator(f"#pinned #entry-{entries[0]['id']}")).to_be_attached()
    assert_not_moved(reading, where)


def test_new_entries_are_announced_politely(
    reader: Watched, live: LiveServer, newsroom: Newsroom
) -> None:
    """Screen-reader users hear about new entries through a polite live region."""
    page = open_blog(reader, live)
    announcer = page.locator("#announcer")
    expect(announcer).to_have_attribute("aria-live", "polite")

    newsroom.publish("The first seat has been declared.", headline="First seat declared")
    expect(announcer).to_have_text(re.compile("First seat declared"))


def test_a_burst_of_entries_is_one_announcement_not_many(
    reader: Watched, live: LiveServer, newsroom: Newsroom
) -> None:
    """Five entries in a burst: the first is announced at once by its headline, the other
    four once, together, when the 10 s gap has passed — not five interruptions."""
    page = reader.page
    page.clock.install()
    page = open_blog(reader, live)
    page.evaluate(
        """() => { window.__said = [];
        new MutationObserver(() => { const t = document.getElementById("announcer").textContent;
          if (t) window.__said.push(t); }).observe(document.getElementById("announcer"),
          {childList: true, characterData: true, subtree: true}); }"""
    )
    for n in range(1, 6):
        newsroom.publish(f"Seat {n} declared in the count.", headline=f"Seat {n} declared")
    expect(page.locator("#entries article.entry")).to_have_count(5)
    page.clock.run_for(1000)
    assert page.evaluate("window.__said") == ["New update: Seat 1 declared"]
    page.clock.run_for(10_000)
    assert page.evaluate("window.__said") == [
        "New update: Seat 1 declared",
        "4 new updates. Latest: Seat 5 declared",
    ]


def test_a_hidden_tab_counts_new_entries_in_its_title(
    reader: Watched, live: LiveServer, newsroom: Newsroom
) -> None:
    """While the tab is hidden, its title reads "(2) …" after two new entries; shown again,
    it is the blog's title alone."""
    page = open_blog(reader, live)
    title = page.title()
    page.evaluate(
        """() => { Object.defineProperty(document, "visibilityState", {configurable: true,
        get: () => window.__visibility || "visible"}); window.__visibility = "hidden";
        document.dispatchEvent(new Event("visibilitychange")); }"""
    )
    newsroom.publish("Seat 1 declared.")
    newsroom.publish("Seat 2 declared.")
    expect(page).to_have_title(f"(2) {title}")
    page.evaluate(
        """() => { window.__visibility = "visible";
        document.dispatchEvent(new Event("visibilitychange")); }"""
    )
    expect(page).to_have_title(title)


@pytest.mark.parametrize("path", ["/", f"/blogs/{SLUG}", "entry"])
def test_pages_have_no_serious_accessibility_violations(
    reader: Watched, live: LiveServer, newsroom: Newsroom, path: str
) -> None:
    """axe-core finds nothing serious or critical on the front, blog and permalink pages."""
    pinned = newsroom.publish("How to follow the night.", headline="About", pinned=True)
    newsroom.publish("Results start at ten.", headline="Timing", key_event=True)
    edited = newsroom.publish("Turnout was 40%.")
    newsroom.edit(edited, body="Turnout was 46%.", correction="We first said 40%.")
    newsroom.change_blog(key_points=["Polls close at 22:00", "Turnout 46%"])
    if path == "entry":
        path = f"/blogs/{SLUG}/entries/{pinned['id']}"
    reader.page.goto(live.url + path)

    results = Axe().run(reader.page)
    serious = [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == []


def test_page_works_without_javascript(
    browser: Browser, live: LiveServer, newsroom: Newsroom
) -> None:
    """With scripts off the reader still gets every entry, the key points and the times."""
    newsroom.publish("Polls have opened.", headline="Opening")
    newsroom.publish("Turnout is high.", headline="Turnout", pinned=True)
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{live.url}/blogs/{SLUG}")
        expect(page.locator("#entries article.entry")).to_have_count(1)
        expect(page.locator("#entries")).to_contain_text("Polls have opened.")
        expect(page.locator("#pinned")).to_contain_text("Turnout is high.")
        expect(page.locator("#key-points")).to_contain_text("Polls close at 22:00")
        # Without the script, times are the newsroom's, with the zone named.
        expect(page.locator("#entries .entry-time").first).to_have_text(
            re.compile(r"^\d\d:\d\d CES?T$")
        )
        expect(page.locator("#new-updates")).to_be_hidden()
    finally:
        context.close()


def test_no_console_errors_or_csp_violations(
    reader: Watched, live: LiveServer, newsroom: Newsroom
) -> None:
    """Through a whole evening of changes the page logs no error and breaks no CSP rule."""
    first = newsroom.publish("| Party | Seats |\n|---|---|\n| Blue | 12 |", headline="Seats")
    page = open_blog(reader, live)
    second = newsroom.publish("A [link](https://example.org), `code` and *emphasis*.")
    newsroom.edit(first, correction="Blue had 12, not 11.", pinned=True)
    newsroom.retract(second, public_note="Wrong link.")
    newsroom.change_blog(key_points=["Blue leads"], status="ended")
    expect(page.locator("#ended-banner")).to_be_visible()
    assert reader.csp_violations() == []

    for path in ["/", f"/blogs/{SLUG}/entries/{first['id']}"]:
        page.goto(live.url + path)
        assert reader.csp_violations() == []
    assert reader.errors == []


def test_aligned_table_keeps_within_csp(
    reader: Watched, live: LiveServer, newsroom: Newsroom
) -> None:
    """A table with right-aligned numbers shows without breaking the page's CSP."""
    newsroom.publish("| Party | Seats |\n|:--|--:|\n| Blue | 12 |", headline="Seats")
    open_blog(reader, live)
    assert reader.csp_violations() == []
    assert reader.errors == []


@pytest.mark.parametrize("width", [390, 1280])
def test_nothing_overflows_sideways(
    browser: Browser, live: LiveServer, newsroom: Newsroom, width: int
) -> None:
    """On a phone or a desktop the page never needs sideways scrolling."""
    newsroom.publish("A-very-long-unbreakable-" * 8 + "\n\n`" + "code" * 40 + "`", headline="Long")
    header, row = "|" + "District |" * 6, "|" + "Northern-Riverside-Heights |" * 6
    newsroom.publish(f"{header}\n|{'---|' * 6}\n{row}", headline="Wide table")
    newsroom.publish("Short.", pinned=True)
    context = browser.new_context(viewport={"width": width, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{live.url}/blogs/{SLUG}")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
    finally:
        context.close()
