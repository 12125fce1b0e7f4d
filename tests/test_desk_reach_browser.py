"""The desk's "Outside this site" box in Chromium: after a retraction it says which CDN purge
is being retried and then "gone everywhere"; an editor adds a webhook from the form and sees its
secret once; the delivery log lists what was sent."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from receiver import Receiver
from test_desk_browser import desk, new_page

from browser import SLUG
from conftest import LiveServer, Team, auth

SHOTS = os.environ.get("LIVEBLOG_SCREENSHOTS")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def purged_live(
    db_url: str, tmp_path: Path, team: Team, receiver: Receiver
) -> Iterator[LiveServer]:
    target = {"name": "edge", "method": "PURGE", "url": receiver.url + "{path}"}
    server = LiveServer(
        db_url, tmp_path, purge_targets=json.dumps([target]), webhook_allow_private=True
    ).start()
    yield server
    server.stop()


def test_a_retraction_shows_retrying_then_gone_everywhere(
    browser: Browser,
    contexts: list[BrowserContext],
    purged_live: LiveServer,
    receiver: Receiver,
    team: Team,
) -> None:
    """While the CDN refuses, the desk names it and the error; once it accepts the retry, the
    same line says "gone everywhere" without a reload; a webhook added in the form is listed
    and its secret shown once; no console errors or CSP violations."""
    token = purged_live.svc.create_token(team.editor.name)
    with httpx.Client(base_url=purged_live.url, headers=auth(token)) as api:
        assert api.post("/api/blogs", json={"slug": SLUG, "title": "Election night"}).is_success
        api.post(f"/api/blogs/{SLUG}/entries", json={"body": "Turnout at 61%"})

        def settled(_: object) -> bool:
            log = api.get(f"/api/blogs/{SLUG}/deliveries").json()["deliveries"]
            return all(d["state"] == "sent" for d in log)

        receiver.wait_for(settled, "the first purges to be sent")
    receiver.status = 503
    watched = new_page(browser, contexts, 1280)
    page = desk(watched, purged_live, "eddie", "editor-password")
    page.locator("#desk-entries li button", has_text="Retract").first.click()
    page.click("#confirm-retract")
    line = page.locator("#reach-retractions li").first
    expect(line).to_contain_text("retrying edge", timeout=8000)
    expect(line).to_contain_text("HTTP 503")
    receiver.status = 200
    # Past the 5 s backoff at once: the relay reads the service's clock.
    purged_live.svc.clock = lambda: datetime.now(UTC) + timedelta(seconds=6)
    expect(line).to_contain_text("gone everywhere", timeout=15000)
    page.click("#webhooks-box summary")
    page.fill("#webhook-url", receiver.url + "/hook")
    page.click("#webhook-form button[type=submit]")
    expect(page.locator("#webhook-status .secret")).to_have_text(re.compile(r"^\S{32,}$"))
    expect(page.locator("#webhooks li")).to_have_count(1)
    page.click("#deliveries-box summary")
    expect(page.locator("#deliveries li").first).to_contain_text("purge edge")
    if SHOTS:
        page.locator("#reach").screenshot(path=f"{SHOTS}/desk-reach-1280.png")
        page.screenshot(path=f"{SHOTS}/desk-1280.png", full_page=True)
        phone = desk(new_page(browser, contexts, 390), purged_live, "eddie", "editor-password")
        phone.click("#webhooks-box summary")
        phone.click("#deliveries-box summary")
        phone.locator("#reach").screenshot(path=f"{SHOTS}/desk-reach-390.png")
    assert watched.errors == [] and watched.csp_violations() == []
