"""The blog desk in a real browser (Debian's chromium via Playwright): editors log in through
the login form and work on the desk page while readers watch the reader page in other browser
contexts; every write goes through the real server over loopback."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from browser import CSP_WATCH, SLUG, Newsroom, Watched, entry, open_blog
from conftest import LiveServer, Tokens, auth

expect.set_options(timeout=5000)
DESK = f"/desk/blogs/{SLUG}"


def new_page(browser: Browser, contexts: list[BrowserContext], width: int = 1024) -> Watched:
    context = browser.new_context(viewport={"width": width, "height": 800})
    contexts.append(context)
    page = context.new_page()
    page.add_init_script(CSP_WATCH)
    watched = Watched(page)
    page.on("console", watched.on_console)
    page.on("pageerror", lambda exc: watched.errors.append(f"uncaught: {exc}"))
    return watched


def desk(watched: Watched, live: LiveServer, user: str, password: str) -> Page:
    """Log in through the form, arriving on the blog's desk with its stream open."""
    page = watched.page
    page.goto(f"{live.url}{DESK}")
    assert "/login" in page.url
    page.fill("#username", user)
    page.fill("#password", password)
    with page.expect_response(lambda r: "/stream" in r.url and r.status == 200):
        page.click("button[type=submit]")
    assert page.url.endswith(DESK)
    return page


@pytest.fixture
def blog_ready(blog: dict[str, Any]) -> dict[str, Any]:
    return blog


def test_editor_publishes_from_the_desk_and_an_open_reader_page_shows_it(
    browser: Browser, contexts: list[BrowserContext], live: LiveServer, blog_ready: Any
) -> None:
    """An editor types an entry, sees the preview, publishes with Ctrl+Enter; a reader page
    open in another browser shows it without reload; no console errors or CSP violations."""
    reader = new_page(browser, contexts)
    reader_page = open_blog(reader, live)
    editor = new_page(browser, contexts)
    page = desk(editor, live, "eddie", "editor-password")
    page.fill("#headline", "Polls close")
    page.fill("#body", "Counting **starts** now.")
    expect(page.locator("#preview strong")).to_have_text("starts")
    page.press("#body", "Control+Enter")
    expect(page.locator("#composer-status")).to_have_text("Published.")
    expect(page.locator("#body")).to_have_value("")
    expect(reader_page.locator("#entries article").first).to_contain_text("Counting starts now.")
    expect(page.locator("#desk-entries li").first).to_contain_text("Polls close")
    assert editor.errors == [] and editor.csp_violations() == []


def test_an_unsent_draft_survives_a_reload(
    browser: Browser, contexts: list[BrowserContext], live: LiveServer, blog_ready: Any
) -> None:
    """Text typed into the composer and not sent is still there after the page reloads."""
    editor = new_page(browser, contexts)
    page = desk(editor, live, "eddie", "editor-password")
    page.fill("#body", "Half-written update about the ferry")
    page.reload()
    expect(page.locator("#body")).to_have_value("Half-written update about the ferry")
    expect(page.locator("#composer-status")).to_contain_text("restored")


def test_a_contributor_submits_and_an_editor_approves(
    browser: Browser, contexts: list[BrowserContext], live: LiveServer, blog_ready: Any
) -> None:
    """A contributor's desk offers only 'Submit for review'; the submission waits in the
    editor's worklist and goes public when the editor publishes it."""
    reader = new_page(browser, contexts)
    reader_page = open_blog(reader, live)
    contributor = new_page(browser, contexts, width=390)  # a phone
    cpage = desk(contributor, live, "cora", "contrib-password")
    assert cpage.locator("#publish").count() == 0
    cpage.fill("#body", "Queues outside the school polling station")
    cpage.click("#submit-review")
    expect(cpage.locator("#composer-status")).to_have_text("Submitted for review.")
    expect(reader_page.locator("#entries")).not_to_contain_text("Queues outside")

    editor = new_page(browser, contexts)
    epage = desk(editor, live, "eddie", "editor-password")
    item = epage.locator("#worklist li", has_text="Queues outside")
    expect(item).to_contain_text("SUBMITTED")
    item.get_by_role("button", name="Publish").click()
    expect(epage.locator("#worklist")).not_to_contain_text("Queues outside")
    expect(reader_page.locator("#entries article").first).to_contain_text("Queues outside")


def test_two_editors_editing_one_entry_the_second_sees_the_conflict(
    browser: Browser,
    contexts: list[BrowserContext],
    live: LiveServer,
    tokens: Tokens,
    blog_ready: Any,
) -> None:
    """Two editors load the same entry; the first saves; the second's save is refused and the
    desk shows both versions, overwriting nothing until they choose."""
    newsroom = Newsroom(live, tokens.editor)
    first = newsroom.publish("Bridge closed", headline="Bridge")
    pages = [
        desk(new_page(browser, contexts), live, "eddie", "editor-password"),
        desk(new_page(browser, contexts), live, "ada", "admin-password"),
    ]
    for page in pages:
        page.locator(f"#desk-entry-{first['id']}").get_by_role("button", name="Edit").click()
        expect(page.locator("#body")).to_have_value("Bridge closed")
    pages[0].fill("#body", "Bridge closed in both directions")
    pages[0].click("#publish")
    expect(pages[0].locator("#composer-status")).to_have_text("Saved.")
    pages[1].fill("#body", "Bridge reopened")
    pages[1].click("#publish")
    expect(pages[1].locator("#conflict")).to_be_visible()
    expect(pages[1].locator("#conflict-theirs")).to_contain_text("both directions")
    expect(pages[1].locator("#conflict-mine")).to_contain_text("Bridge reopened")
    current = newsroom.client.get(f"/api/blogs/{SLUG}/entries/{first['id']}").json()
    assert current["body"] == "Bridge closed in both directions"
    pages[1].click("#keep-mine")
    expect(pages[1].locator("#composer-status")).to_have_text("Saved.")
    current = newsroom.client.get(f"/api/blogs/{SLUG}/entries/{first['id']}").json()
    assert current["body"] == "Bridge reopened" and current["version"] == 3


def test_a_retraction_from_the_desk_leaves_the_open_reader_page(
    browser: Browser,
    contexts: list[BrowserContext],
    live: LiveServer,
    tokens: Tokens,
    blog_ready: Any,
) -> None:
    """Retract asks for confirmation and a note; the entry leaves the open reader page at once
    and the note takes its place."""
    newsroom = Newsroom(live, tokens.editor)
    wrong = newsroom.publish("Unverified casualty figure")
    reader = new_page(browser, contexts)
    reader_page = open_blog(reader, live)
    expect(entry(reader_page, wrong["id"])).to_contain_text("Unverified")
    page = desk(new_page(browser, contexts), live, "eddie", "editor-password")
    page.locator(f"#desk-entry-{wrong['id']}").get_by_role("button", name="Retract…").click()
    page.fill("#public-note", "Removed: the figure was not confirmed.")
    page.click("#confirm-retract")
    expect(page.locator(f"#desk-entry-{wrong['id']}")).to_have_count(0)
    expect(reader_page.locator("#entries")).not_to_contain_text("Unverified")


def test_scheduling_key_points_and_ending_from_the_desk(
    browser: Browser, contexts: list[BrowserContext], live: LiveServer, blog_ready: Any
) -> None:
    """An editor schedules an entry for later (it waits in the worklist, not public), edits
    the key points and ends the blog; an open reader page shows the key points and the end."""
    reader = new_page(browser, contexts)
    reader_page = open_blog(reader, live)
    page = desk(new_page(browser, contexts), live, "eddie", "editor-password")
    page.fill("#body", "Exit poll at 22:00")
    page.fill("#publish-at", "2099-01-01T22:00")  # the browser's local time
    page.click("#schedule")
    expect(page.locator("#composer-status")).to_contain_text("publish_at: must be within a year")
    later = (datetime.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    page.fill("#publish-at", later)
    page.click("#schedule")
    expect(page.locator("#composer-status")).to_contain_text("Scheduled for")
    expect(page.locator("#worklist li", has_text="Exit poll")).to_contain_text("SCHEDULED")
    page.fill("#key-points", "Polls close at 22:00\nTurnout above 60%")
    page.click("#key-points-form button[type=submit]")
    expect(page.locator("#blog-box-status")).to_have_text("Key points saved.")
    expect(reader_page.locator("body")).to_contain_text("Turnout above 60%")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#end-blog")
    expect(page.locator("#blog-status")).to_have_text("ended")
    expect(page.locator("#reopen-blog")).to_be_visible()
    expect(reader_page.locator("body")).to_contain_text("ended")
    assert "Exit poll" not in reader_page.content()


def test_the_desk_shows_who_else_is_here_and_what_they_are_editing(
    browser: Browser,
    contexts: list[BrowserContext],
    live: LiveServer,
    tokens: Tokens,
    blog_ready: Any,
) -> None:
    """Two editors on one blog's desk see each other; when one opens an entry to edit, the
    other sees who is editing it, within a few seconds."""
    first = Newsroom(live, tokens.editor).publish("Bridge closed")
    eddie = desk(new_page(browser, contexts), live, "eddie", "editor-password")
    ada = desk(new_page(browser, contexts), live, "ada", "admin-password")
    expect(ada.locator("#presence")).to_contain_text("eddie", timeout=8000)
    eddie.locator(f"#desk-entry-{first['id']}").get_by_role("button", name="Edit").click()
    expect(ada.locator("#presence")).to_contain_text(
        f"eddie (editing entry {first['id']})", timeout=8000
    )
    expect(ada.locator(f"#desk-entry-{first['id']} .being-edited")).to_have_text(
        "Being edited by eddie"
    )


def test_incoming_updates_never_move_the_caret_or_steal_focus(
    browser: Browser,
    contexts: list[BrowserContext],
    live: LiveServer,
    tokens: Tokens,
    blog_ready: Any,
) -> None:
    """While an editor is typing, entries published by colleagues arrive in the stream beside
    the composer; the focus and the caret stay where the editor left them, on a phone too."""
    page = desk(new_page(browser, contexts, width=390), live, "eddie", "editor-password")
    page.click("#body")
    page.keyboard.type("Ambulances are queuing at")
    page.evaluate("document.getElementById('body').setSelectionRange(11, 11)")
    newsroom = Newsroom(live, tokens.editor)
    for n in range(3):
        newsroom.publish(f"Colleague's update {n}")
    expect(page.locator("#desk-entries li")).to_have_count(3)
    state = page.evaluate(
        "[document.activeElement.id, document.getElementById('body').selectionStart]"
    )
    assert state == ["body", 11]
    page.keyboard.type("X")
    expect(page.locator("#body")).to_have_value("Ambulances Xare queuing at")


def test_history_send_back_and_activity_on_the_desk(
    browser: Browser,
    contexts: list[BrowserContext],
    live: LiveServer,
    tokens: Tokens,
    blog_ready: Any,
) -> None:
    """An editor sees every version of an edited entry, sends a submission back with a
    comment the contributor then sees, and the team's recent actions are listed."""
    newsroom = Newsroom(live, tokens.editor)
    first = newsroom.publish("Two injured")
    newsroom.edit(first, body="Three injured", correction="An earlier version said two.")
    submission = httpx.post(
        f"{live.url}/api/blogs/{SLUG}/entries",
        json={"body": "Road blocked at the bridge", "status": "submitted"},
        headers=auth(tokens.contributor),
    )
    assert submission.status_code == 201
    page = desk(new_page(browser, contexts), live, "eddie", "editor-password")
    page.locator(f"#desk-entry-{first['id']}").get_by_role("button", name="History").click()
    expect(page.locator("#history li")).to_have_count(2)
    expect(page.locator("#history li").first).to_contain_text("An earlier version said two.")
    page.click("#history-dialog button[value=close]")
    item = page.locator("#worklist li", has_text="Road blocked")
    item.get_by_role("button", name="Send back…").click()
    page.fill("#review-note", "Which bridge? Add a source.")
    page.click("#confirm-send-back")
    expect(page.locator("#composer-status")).to_have_text("Sent back to its author.")
    expect(page.locator("#activity")).to_contain_text("eddie: entry draft")
    cora = desk(new_page(browser, contexts), live, "cora", "contrib-password")
    expect(cora.locator("#worklist li", has_text="Road blocked")).to_contain_text(
        "Sent back: Which bridge? Add a source."
    )
    assert cora.locator("#activity").count() == 0  # the audit log is for editors
