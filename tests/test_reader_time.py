"""Times on the reader page, honestly: in the reader's own zone with the zone named, the date
added when it is not today, "Last updated" near the title and following the stream, and the
ended banner saying when — in Chromium with the reader in another zone than the newsroom."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.sync_api import Browser, expect

from browser import SLUG, Watched, open_blog
from conftest import LiveServer, Tokens, auth

ZONE_LABEL = re.compile(r"\b(EST|EDT)\b")  # en-US names New York's zone so


def test_times_carry_the_readers_zone_and_the_date_when_not_today(
    browser: Browser, live: LiveServer, http: httpx.Client, tokens: Tokens, blog: dict[str, Any]
) -> None:
    """A reader in New York sees today's entry as a time with "EST", a three-day-old one with
    its date too, "Last updated" moving when an entry arrives, and "ended on" with the time
    once the blog ends — the newsroom's zone is Berlin."""
    editor = auth(tokens.editor)
    old_time = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    old = http.post(
        f"/api/blogs/{SLUG}/entries",
        json={"body": "Campaign opens", "published_at": old_time},
        headers=editor,
    ).json()
    today = http.post(
        f"/api/blogs/{SLUG}/entries", json={"body": "Polls open"}, headers=editor
    ).json()
    context = browser.new_context(timezone_id="America/New_York", locale="en-US")
    try:
        page = open_blog(Watched(context.new_page()), live)
        today_time = page.locator(f"#entry-{today['id']} .entry-time time").inner_text()
        old_label = page.locator(f"#entry-{old['id']} .entry-time time").inner_text()
        assert ZONE_LABEL.search(today_time) and not re.search(r"[A-Z][a-z]{2} \d", today_time), (
            today_time
        )
        assert ZONE_LABEL.search(old_label) and re.search(r"[A-Z][a-z]{2} \d{1,2}", old_label), (
            old_label
        )
        updated = page.locator("#last-updated time")
        assert ZONE_LABEL.search(updated.inner_text())
        before = updated.get_attribute("datetime")
        http.post(f"/api/blogs/{SLUG}/entries", json={"body": "Queues outside"}, headers=editor)
        expect(page.locator("#entries article.entry")).to_have_count(3)
        assert updated.get_attribute("datetime") != before
        http.patch(f"/api/blogs/{SLUG}", json={"status": "ended"}, headers=editor)
        banner = page.locator("#ended-banner")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("ended at")  # today, in the reader's calendar
        assert ZONE_LABEL.search(banner.inner_text()), banner.inner_text()
    finally:
        context.close()


def test_without_script_the_page_says_the_newsrooms_zone(
    http: httpx.Client, tokens: Tokens, blog: dict[str, Any]
) -> None:
    """Served HTML alone names the newsroom's zone on every time, and "Last updated" and the
    ended banner their day as well (a cached page outlives the day it was rendered)."""
    editor = auth(tokens.editor)
    http.post(f"/api/blogs/{SLUG}/entries", json={"body": "Polls open"}, headers=editor)
    http.patch(f"/api/blogs/{SLUG}", json={"status": "ended"}, headers=editor)
    page = http.get(f"/blogs/{SLUG}").text
    assert re.search(
        r'id="last-updated">Last updated <time datetime="[^"]+">\d\d \w{3} \d{4}, \d\d:\d\d CES?T<',
        page,
    )
    assert re.search(
        r'ended <span id="ended-word">on</span> <time [^>]+>\d\d \w{3} \d{4}, \d\d:\d\d CES?T<',
        page,
    )
