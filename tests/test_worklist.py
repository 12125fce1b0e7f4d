"""The desk's API helpers: the worklist of unpublished entries and the Markdown preview."""

from __future__ import annotations

from typing import Any

import httpx

from conftest import Tokens, auth

SLUG = "election-night"
ENTRIES = f"/api/blogs/{SLUG}/entries"


def write(http: httpx.Client, token: str, body: str, status: str) -> dict[str, Any]:
    r = http.post(ENTRIES, json={"body": body, "status": status}, headers=auth(token))
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def test_worklist_shows_the_team_every_unpublished_entry_and_a_contributor_their_own(
    http: httpx.Client, tokens: Tokens, blog: dict[str, Any]
) -> None:
    """Editors see all drafts and submissions (newest change first) and no published entry; a
    contributor sees only their own; nobody unsigned sees any."""
    mine = write(http, tokens.contributor, "contributor's submission", "submitted")
    draft = write(http, tokens.editor, "editor's draft", "draft")
    write(http, tokens.editor, "public", "published")
    r = http.get(f"/api/blogs/{SLUG}/worklist", headers=auth(tokens.editor))
    assert r.status_code == 200
    assert [e["id"] for e in r.json()["entries"]] == [draft["id"], mine["id"]]
    assert r.headers["cache-control"] == "private, no-store"
    r = http.get(f"/api/blogs/{SLUG}/worklist", headers=auth(tokens.contributor))
    assert [e["id"] for e in r.json()["entries"]] == [mine["id"]]
    assert http.get(f"/api/blogs/{SLUG}/worklist").status_code == 401
    assert http.get("/api/blogs/nope/worklist", headers=auth(tokens.editor)).status_code == 404


def test_preview_renders_markdown_as_a_published_entry_would(
    http: httpx.Client, tokens: Tokens
) -> None:
    """The preview is the same sanitised HTML publishing stores: raw HTML stays text."""
    body = "**Polls close** <script>alert(1)</script>"
    r = http.post("/api/preview", json={"body": body}, headers=auth(tokens.contributor))
    assert r.status_code == 200
    html = r.json()["html"]
    assert "<strong>Polls close</strong>" in html and "<script>" not in html


def test_preview_refuses_anonymous_callers_and_oversized_bodies(
    http: httpx.Client, tokens: Tokens
) -> None:
    """Nobody signed out can use the renderer, and its limits are the entry's limits."""
    assert http.post("/api/preview", json={"body": "x"}).status_code == 401
    r = http.post("/api/preview", json={"body": "x" * 100_001}, headers=auth(tokens.editor))
    assert r.status_code == 413
    assert r.json()["field"] == "body"


def test_an_editor_sends_a_submission_back_with_a_comment(
    http: httpx.Client, tokens: Tokens, blog: dict[str, Any]
) -> None:
    """The submission returns to its author as a draft carrying the comment; contributors
    cannot write comments; resubmitting clears it; the comment is never public."""
    sub = write(http, tokens.contributor, "Crowds at the square", "submitted")
    path = f"{ENTRIES}/{sub['id']}"
    back = {"status": "draft", "review_note": "Which square? Add a source.", "version": 1}
    r = http.patch(path, json=back, headers=auth(tokens.contributor))
    assert r.status_code == 403
    r = http.patch(path, json={"review_note": "x", "version": 1}, headers=auth(tokens.editor))
    assert r.status_code == 422 and r.json()["field"] == "review_note"
    r = http.patch(path, json=back, headers=auth(tokens.editor))
    assert r.status_code == 200 and r.json()["status"] == "draft"
    mine = http.get(f"/api/blogs/{SLUG}/worklist", headers=auth(tokens.contributor)).json()
    assert mine["entries"][0]["review_note"] == "Which square? Add a source."
    again = {"status": "submitted", "body": "Crowds at Liberty Square (police)", "version": 1}
    r = http.patch(path, json=again, headers=auth(tokens.contributor))
    assert r.status_code == 200 and "review_note" not in r.json()
    r = http.patch(path, json={"status": "published", "version": 2}, headers=auth(tokens.editor))
    assert r.status_code == 200
    events = http.get(f"/api/blogs/{SLUG}/events").json()["events"]
    assert "Which square" not in str(events)
