"""Entries that keep their original time (an import, a report written up offline): editors and
admins give `published_at` in the past when creating an entry, and it takes its time's place on
the page, in the JSON, the feeds and on open pages — audited, never in the future."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import httpx
from playwright.sync_api import Browser, expect

from browser import SLUG, Watched, open_blog
from conftest import LiveServer, Tokens, auth


def post(http: httpx.Client, token: str, **entry: Any) -> httpx.Response:
    return http.post(f"/api/blogs/{SLUG}/entries", json=entry, headers=auth(token))


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


def test_a_backdated_entry_takes_its_place_everywhere(
    http: httpx.Client, tokens: Tokens, blog: dict[str, Any]
) -> None:
    """An entry given a time two hours back lists after one published now, in the JSON, on
    the page and in the Atom feed, with exactly the time given; the audit log notes it."""
    fresh = post(http, tokens.editor, body="Polls close in the capital").json()
    when = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    late = post(http, tokens.editor, body="Turnout at noon: 41%", published_at=when.isoformat())
    assert late.status_code == 201, late.text
    old = late.json()
    assert datetime.fromisoformat(old["published_at"]) == when
    ids = [e["id"] for e in http.get(f"/api/blogs/{SLUG}/entries").json()["entries"]]
    assert ids == [fresh["id"], old["id"]]
    page = http.get(f"/blogs/{SLUG}").text
    assert page.index(f'id="entry-{fresh["id"]}"') < page.index(f'id="entry-{old["id"]}"')
    feed = feedparser.parse(http.get(f"/blogs/{SLUG}/feed.atom").content)
    assert [e.title for e in feed.entries] == ["Polls close in the capital", "Turnout at noon: 41%"]
    records = http.get("/api/audit", params={"blog": SLUG}, headers=auth(tokens.editor)).json()
    [publish] = [
        r
        for r in records["records"]
        if r["action"] == "entry.publish" and r["entry_id"] == old["id"]
    ]
    assert datetime.fromisoformat(publish["detail"]["published_at"]) == when


def test_what_may_not_be_backdated(
    http: httpx.Client, tokens: Tokens, blog: dict[str, Any]
) -> None:
    """A time in the future, a time without its zone, and a draft or submission with a time
    are refused with 422 and the field named; a contributor may not publish at all (403); a
    time a few seconds ahead (a fast clock) is taken as now."""
    for entry, status in [
        ({"published_at": ago(hours=-1)}, 422),
        ({"published_at": "2026-11-27T06:40:00"}, 422),
        ({"published_at": ago(hours=1), "status": "draft"}, 422),
        ({"published_at": "1970-01-01T00:00:00Z"}, 422),
    ]:
        response = post(http, tokens.editor, body="x", **entry)
        assert response.status_code == status, (entry, response.text)
        assert response.json()["field"] == "published_at"
    contributor = post(http, tokens.contributor, body="x", published_at=ago(hours=1))
    assert contributor.status_code == 403
    submitted = post(
        http, tokens.contributor, body="x", status="submitted", published_at=ago(hours=1)
    )
    assert submitted.status_code == 422
    skewed = post(http, tokens.editor, body="Fast clock", published_at=ago(seconds=-20))
    assert skewed.status_code == 201
    assert datetime.fromisoformat(skewed.json()["published_at"]) <= datetime.now(UTC)


def test_an_open_page_inserts_it_at_its_time(
    browser: Browser, live: LiveServer, http: httpx.Client, tokens: Tokens, blog: dict[str, Any]
) -> None:
    """A reader with the page open sees the backdated entry arrive below the newer ones, in
    its time's place, not on top."""
    first = post(http, tokens.editor, body="Counting starts", published_at=ago(hours=3)).json()
    second = post(http, tokens.editor, body="First results").json()
    context = browser.new_context()
    try:
        page = open_blog(Watched(context.new_page()), live)
        middle = post(http, tokens.editor, body="Exit poll", published_at=ago(hours=1)).json()
        articles = page.locator("#entries article.entry")
        expect(articles).to_have_count(3)
        order = articles.evaluate_all("nodes => nodes.map(n => n.id)")
        assert order == [f"entry-{e['id']}" for e in (second, middle, first)]
    finally:
        context.close()
