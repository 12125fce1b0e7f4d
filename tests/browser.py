"""Helpers for the browser tests: a watched page and an editor working through the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import ConsoleMessage, FloatRect, Locator, Page, Request

from conftest import LiveServer, auth

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SLUG = "election-night"  # the `blog` fixture's
# Collects CSP violations in the page itself; Playwright injects this outside the page's CSP.
CSP_WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI);
});
"""


@dataclass
class Watched:
    """A page plus everything it complained about and every stream request it made."""

    page: Page
    errors: list[str] = field(default_factory=list)
    streams: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def on_request(self, request: Request) -> None:
        if "/stream" in request.url:
            self.streams.append(request.url)

    def csp_violations(self) -> list[str]:
        found: list[str] = self.page.evaluate("window.__csp || []")
        return found


class Newsroom:
    """An editor working through the real JSON API."""

    def __init__(self, live: LiveServer, token: str) -> None:
        self.client = httpx.Client(base_url=live.url, headers=auth(token), timeout=10)

    def publish(self, body: str, headline: str = "", **flags: bool) -> dict[str, Any]:
        payload = {"body": body, "headline": headline, **flags}
        response = self.client.post(f"/api/blogs/{SLUG}/entries", json=payload)
        assert response.status_code == 201, response.text
        entry: dict[str, Any] = response.json()
        return entry

    def edit(self, entry: dict[str, Any], **changes: Any) -> dict[str, Any]:
        response = self.client.patch(
            f"/api/blogs/{SLUG}/entries/{entry['id']}",
            json=changes,
            headers={"If-Match": f'"{entry["version"]}"'},
        )
        assert response.status_code == 200, response.text
        edited: dict[str, Any] = response.json()
        return edited

    def retract(self, entry: dict[str, Any], public_note: str = "") -> None:
        response = self.client.request(
            "DELETE",
            f"/api/blogs/{SLUG}/entries/{entry['id']}",
            json={"public_note": public_note} if public_note else None,
        )
        assert response.status_code == 204, response.text

    def change_blog(self, **changes: Any) -> None:
        response = self.client.patch(f"/api/blogs/{SLUG}", json=changes)
        assert response.status_code == 200, response.text


def open_blog(reader: Watched, live: LiveServer) -> Page:
    """Load the blog page and wait until its live stream is open."""
    page = reader.page
    with page.expect_response(lambda r: "/stream" in r.url and r.status == 200):
        page.goto(f"{live.url}/blogs/{SLUG}")
    return page


def entry(page: Page, entry_id: int) -> Locator:
    return page.locator(f"#entry-{entry_id}")


def assert_not_moved(element: Locator, before: FloatRect | None) -> None:
    """Within a pixel: scroll positions snap to whole device pixels."""
    after = element.bounding_box()
    assert before is not None and after is not None
    assert abs(after["y"] - before["y"]) < 1, (before, after)
