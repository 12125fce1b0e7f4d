"""Invariant 5: after a retraction no public response anywhere carries the entry's text."""

from __future__ import annotations

import httpx

from conftest import Tokens, auth
from sse import frames

SLUG = "election-night"
MARKER = "ZX-UNVERIFIED-CLAIM-4711"


def test_retracted_text_is_gone_from_every_public_response(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Page, permalink, JSON, events, stream replay and revalidation all lose the marker text."""
    editor = auth(tokens.editor)
    r = http.post(
        f"/api/blogs/{SLUG}/entries",
        json={"headline": f"Claim {MARKER}", "body": f"Body {MARKER}", "pinned": True},
        headers=editor,
    )
    entry = r.json()
    r = http.patch(
        f"/api/blogs/{SLUG}/entries/{entry['id']}",
        json={"body": f"Edited {MARKER}", "correction": f"Fixed {MARKER}", "version": 1},
        headers=editor,
    )
    assert r.status_code == 200
    http.post(f"/api/blogs/{SLUG}/entries", json={"body": "Unrelated update"}, headers=editor)

    page_before = http.get(f"/blogs/{SLUG}")
    assert MARKER in page_before.text  # the marker is really there before (the test can fail)
    old_etag = page_before.headers["etag"]

    r = http.request("DELETE", f"/api/blogs/{SLUG}/entries/{entry['id']}", headers=editor)
    assert r.status_code == 204

    public = {
        "page": http.get(f"/blogs/{SLUG}"),
        "permalink": http.get(f"/blogs/{SLUG}/entries/{entry['id']}"),
        "entries": http.get(f"/api/blogs/{SLUG}/entries"),
        "entry": http.get(f"/api/blogs/{SLUG}/entries/{entry['id']}"),
        "events": http.get(f"/api/blogs/{SLUG}/events?after=0"),
        "revalidation": http.get(f"/blogs/{SLUG}", headers={"If-None-Match": old_etag}),
        "front": http.get("/"),
    }
    with http.stream("GET", f"/api/blogs/{SLUG}/stream", headers={"Last-Event-ID": "0"}) as resp:
        replay = []
        for frame in frames(resp):
            replay.append(frame.data)
            if frame.event == "entry-retracted":
                break
    for name, response in public.items():
        assert MARKER not in response.text, name
        assert response.status_code < 500, name
    assert public["permalink"].status_code == 404
    assert public["entry"].status_code == 404
    assert public["revalidation"].status_code == 200  # the old page is not revalidated as fresh
    assert "Unrelated update" in public["page"].text
    assert not any(MARKER in data for data in replay)
    events = public["events"].json()["events"]
    assert [e["seq"] for e in events] == [
        1,
        2,
        3,
        4,
    ]  # redacted, not removed: the log stays gapless
    assert events[0]["data"] == {"entry": {"id": entry["id"], "redacted": True}}


def test_retraction_with_public_note_leaves_a_tombstone(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """With a public note the permalink answers 410 with that note, and still not the text."""
    editor = auth(tokens.editor)
    entry = http.post(f"/api/blogs/{SLUG}/entries", json={"body": MARKER}, headers=editor).json()
    http.request(
        "DELETE",
        f"/api/blogs/{SLUG}/entries/{entry['id']}",
        json={"public_note": "Withdrawn: the source retracted it."},
        headers=editor,
    )
    api = http.get(f"/api/blogs/{SLUG}/entries/{entry['id']}")
    page = http.get(f"/blogs/{SLUG}/entries/{entry['id']}")
    assert api.status_code == 410
    assert api.json()["public_note"] == "Withdrawn: the source retracted it."
    assert page.status_code == 410
    assert "Withdrawn: the source retracted it." in page.text
    assert MARKER not in api.text + page.text
    blog_page = http.get(f"/blogs/{SLUG}")
    assert "Withdrawn: the source retracted it." in blog_page.text  # the tombstone stays on reload
    assert MARKER not in blog_page.text
