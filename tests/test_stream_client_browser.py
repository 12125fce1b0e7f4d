"""The one stream client (static/live_stream.js) in a real browser, on the desk and the reader page:
a reconnect that replays an entry published and retracted meanwhile neither throws nor shows
the retracted text."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from test_desk_browser import desk, new_page

from browser import Newsroom, open_blog
from conftest import LiveServer, Tokens

SECRET = "Unconfirmed: the dam has burst"


def dropped_and_back(page: Page, newsroom: Newsroom, live: LiveServer) -> None:
    """Drop the page's stream (the server closes it, as a node going away would), publish and
    retract an entry while the browser waits to reconnect, and wait for the reconnect: its
    replay carries the entry's redacted copy and then the retraction."""
    live.app.state.hub.close_all("test: the connection dropped")
    time.sleep(0.5)  # the browser reconnects after the stream's retry hint, 3 s
    with page.expect_response(lambda r: "/stream" in r.url and r.status == 200, timeout=10_000):
        wrong = newsroom.publish(SECRET)
        newsroom.retract(wrong)


@pytest.mark.parametrize("where", ["desk", "reader"])
def test_a_replayed_retraction_neither_throws_nor_shows_its_text(
    where: str,
    browser: Browser,
    contexts: list[BrowserContext],
    live: LiveServer,
    tokens: Tokens,
    blog: dict[str, Any],
) -> None:
    """A page whose stream reconnects across an entry published and then retracted gets the
    entry's redacted copy in the replay: it skips it, shows nothing of it, and goes on with
    the next entry."""
    newsroom = Newsroom(live, tokens.editor)
    newsroom.publish("Water levels stable")
    watched = new_page(browser, contexts)
    if where == "desk":
        page = desk(watched, live, "eddie", "editor-password")
        entries = page.locator("#desk-entries")
    else:
        page = open_blog(watched, live)
        entries = page.locator("#entries")
    expect(entries).to_contain_text("Water levels stable")
    dropped_and_back(page, newsroom, live)
    if where == "desk":
        expect(page.locator("#stream-state")).to_have_text("· live")
    newsroom.publish("Evacuation of the lower town")
    expect(entries).to_contain_text("Evacuation of the lower town")
    assert SECRET not in page.content()
    assert watched.errors == [], watched.errors
    newsroom.client.close()
