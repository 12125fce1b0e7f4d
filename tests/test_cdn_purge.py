"""A shared cache in front of the app, purged on change: the shipped deploy/nginx.conf's
proxy_cache holds pages, JSON and feeds for minutes, and a retraction still leaves no copy of
the entry's text in it, because the relay purges every path the change made stale."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from test_deploying import NGINX, Proxy

from conftest import LiveServer, Team, auth, free_port, require_or_skip

SLUG = "kherson-bridge"
TEXT = "The Antonivskyi bridge is closed to all traffic"
CACHED_PATHS = [
    f"/blogs/{SLUG}",
    f"/blogs/{SLUG}?utm_source=share",  # a shared link: the same copy, so the same purge
    f"/blogs/{SLUG}/lite",
    f"/blogs/{SLUG}/embed",
    f"/blogs/{SLUG}/feed.atom",
    f"/blogs/{SLUG}/feed.rss",
    f"/blogs/{SLUG}/feed.json",
    f"/api/blogs/{SLUG}/entries",
    f"/api/blogs/{SLUG}/events?after=0",
]


class CachedSite:
    def __init__(self, app: LiveServer, proxy: Proxy, token: str) -> None:
        self.app = app
        self.proxy = proxy
        self.token = token

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.app.url, headers=auth(self.token), timeout=10)

    def deliveries(self) -> dict[str, Any]:
        with self.api() as http:
            response = http.get(f"/api/blogs/{SLUG}/deliveries")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def cached(db_url: str, tmp_path: Path, team: Team) -> Iterator[CachedSite]:
    require_or_skip(NGINX.exists(), f"nginx is not installed at {NGINX} (Debian package nginx)")
    proxy_port = free_port()
    target = {
        "name": "nginx",
        "method": "GET",
        "url": f"http://127.0.0.1:{proxy_port}{{path}}",
        "headers": {"X-Liveblog-Purge": "1"},
    }
    app = LiveServer(
        db_url,
        tmp_path,
        cache_s_maxage=600,
        cache_stale_seconds=60,
        purge_targets=json.dumps([target]),
    ).start()
    # Both upstream lines of the shipped configuration name the one app.
    node = SimpleNamespace(port=app.port)
    proxy = Proxy([node, node], proxy_port)  # type: ignore[list-item]
    token = app.svc.create_token(team.editor.name)
    try:
        proxy.start()
        with httpx.Client(base_url=app.url, headers=auth(token)) as http:
            created = http.post("/api/blogs", json={"slug": SLUG, "title": "Kherson, live"})
            assert created.status_code == 201, created.text
        yield CachedSite(app, proxy, token)
    finally:
        proxy.stop()
        app.stop()


def wait_settled(site: CachedSite, timeout: float = 15.0) -> dict[str, Any]:
    """The delivery log once nothing is pending."""
    deadline = time.monotonic() + timeout
    while True:
        log = site.deliveries()
        if all(d["state"] != "pending" for d in log["deliveries"]):
            return log
        assert time.monotonic() < deadline, f"purges still pending: {log['deliveries']}"
        time.sleep(0.1)


def test_a_retraction_leaves_no_cached_copy_of_the_entry(cached: CachedSite) -> None:
    """Every cached view holds the entry before the retraction (served from nginx's cache,
    for ten minutes by its headers) and none holds it after; the desk's log says "gone
    everywhere"."""
    with cached.api() as http:
        entry = http.post(
            f"/api/blogs/{SLUG}/entries", json={"headline": "Bridge closed", "body": TEXT}
        ).json()
    paths = [*CACHED_PATHS, f"/blogs/{SLUG}/entries/{entry['id']}"]
    wait_settled(cached)
    with cached.proxy.client() as reader:
        for path in paths:
            reader.get(path)  # fills the cache
            again = reader.get(path)
            assert again.status_code == 200, (path, again.text)
            assert again.headers["x-cache"] == "HIT", (path, again.headers)
            assert TEXT in again.text, path
            assert "s-maxage=600" in again.headers["cache-control"]
    with cached.api() as http:
        gone = http.request(
            "DELETE", f"/api/blogs/{SLUG}/entries/{entry['id']}", json={"public_note": ""}
        )
        assert gone.status_code == 204, gone.text
    log = wait_settled(cached)
    [retraction] = log["retractions"]
    assert retraction["entry_id"] == entry["id"]
    assert retraction["gone_everywhere"] is True, retraction
    with cached.proxy.client() as reader:
        for path in paths:
            after = reader.get(path)
            assert TEXT not in after.text, f"{path} still shows the retracted text"
            assert after.headers["x-cache"] in ("HIT", "EXPIRED", "REVALIDATED"), path


def test_a_browser_revalidates_through_the_cache(cached: CachedSite) -> None:
    """A reader's second view of a page sends its ETag and gets a body-less 304 from the
    cache; after a new entry the same ETag gets the new page (the purge refreshed it)."""
    with cached.proxy.client() as reader:
        first = reader.get(f"/blogs/{SLUG}")
        reader.get(f"/blogs/{SLUG}")
        etag = first.headers["etag"]
        again = reader.get(f"/blogs/{SLUG}", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        with cached.api() as http:
            http.post(f"/api/blogs/{SLUG}/entries", json={"body": "Sirens in the city centre"})
        wait_settled(cached)
        changed = reader.get(f"/blogs/{SLUG}", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and "Sirens in the city centre" in changed.text
