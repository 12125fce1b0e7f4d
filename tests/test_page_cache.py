"""Reader pages answered from memory are exactly the rendered page, and never stale."""

from __future__ import annotations

import time

import httpx

from liveblog.broadcast.base import NullHub
from liveblog.domain.events import Event
from liveblog.service import Liveblog
from liveblog.storage.sql import SqlStore

from conftest import LiveServer, Tokens, auth
from sse import take

SLUG = "election-night"
PAGE = f"/blogs/{SLUG}"


def test_page_from_memory_matches_the_rendered_page(
    live: LiveServer, http: httpx.Client, blog: dict
) -> None:
    """The second request is answered from memory with the same bytes, ETag and headers."""
    pages = live.app.state.page_cache
    first = http.get(PAGE)
    before = pages.served_from_memory
    second = http.get(PAGE)
    assert pages.served_from_memory == before + 1
    assert second.status_code == first.status_code == 200
    assert second.content == first.content
    for header in ("etag", "content-type", "content-security-policy", "cache-control"):
        assert second.headers[header] == first.headers[header], header
    revalidated = http.get(PAGE, headers={"If-None-Match": first.headers["etag"]})
    assert revalidated.status_code == 304
    assert revalidated.headers["etag"] == first.headers["etag"]
    assert pages.served_from_memory == before + 2


def test_a_publish_is_on_the_very_next_page_load(
    live: LiveServer, http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Right after a 201 the page (warm in memory a moment ago) shows the new entry."""
    for n in range(5):
        http.get(PAGE)  # warm: served from memory
        r = http.post(
            f"/api/blogs/{SLUG}/entries",
            json={"body": f"Result {n} is in"},
            headers=auth(tokens.editor),
        )
        assert r.status_code == 201
        page = http.get(PAGE)
        assert f"Result {n} is in" in page.text
        assert page.headers["etag"] != ""


def test_a_write_by_another_process_shows_within_a_second(
    live: LiveServer, http: httpx.Client, blog: dict, db_url: str, tokens: Tokens
) -> None:
    """A change made outside this server (the CLI, another node) reaches the page within the
    cache's one-second confirmation window, and readers' open streams catch up from the log."""
    http.get(PAGE)
    with (
        httpx.Client(base_url=live.url, timeout=10) as reader,
        reader.stream("GET", f"/api/blogs/{SLUG}/stream") as stream,
    ):
        other_store = SqlStore(db_url)
        other = Liveblog(other_store, NullHub())
        editor = other.user_for_token(tokens.editor)
        other.create_entry(editor, SLUG, body="Written elsewhere")
        other_store.close()
        deadline = time.monotonic() + 3
        while "Written elsewhere" not in http.get(PAGE).text:
            assert time.monotonic() < deadline, "the page never showed the other process's write"
            time.sleep(0.1)
        (frame,) = take(stream, 1)  # the page load made the hub catch up from the log
    assert frame.event == "entry-published" and "Written elsewhere" in frame.data


def test_a_retraction_waiting_behind_a_repair_already_invalidates_the_page(
    live: LiveServer, http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """While the hub is busy reading the log (a slow database, another node's signal), a
    retraction committed here is queued behind that read; the page in memory must not be
    served meanwhile, or the retracted text would go out after the 204."""
    editor = auth(tokens.editor)
    r = http.post(f"/api/blogs/{SLUG}/entries", json={"body": "ZX-WRONG-9"}, headers=editor)
    entry = r.json()
    assert "ZX-WRONG-9" in http.get(PAGE).text
    assert "ZX-WRONG-9" in http.get(PAGE).text  # now warm in memory
    hub = live.app.state.hub
    real_fetch = hub.fetch

    def slow_fetch(blog_id: int, after: int, limit: int) -> list[Event]:
        time.sleep(1.0)  # the log read of a loaded database
        return real_fetch(blog_id, after, limit)

    hub.fetch = slow_fetch
    channel = hub.cached_channel(SLUG)
    hub.signal(channel.blog_id, channel.seq + 1)  # another node says: there is more
    time.sleep(0.1)  # the repair is now reading, slowly
    r = http.request("DELETE", f"/api/blogs/{SLUG}/entries/{entry['id']}", headers=editor)
    assert r.status_code == 204
    assert "ZX-WRONG-9" not in http.get(PAGE).text
    hub.fetch = real_fetch
