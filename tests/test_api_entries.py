"""The entry half of the JSON API over real HTTP: write, list, page, edit, pin, retract, limits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from liveblog.domain.models import Role

from conftest import LiveServer, Tokens, auth

SLUG = "election-night"
ENTRIES = f"/api/blogs/{SLUG}/entries"


def post(http: httpx.Client, token: str, **payload: Any) -> dict[str, Any]:
    r = http.post(ENTRIES, json=payload, headers=auth(token))
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def patch(
    http: httpx.Client, token: str, entry_id: int, payload: dict[str, Any], **headers: str
) -> httpx.Response:
    extra = {k.replace("_", "-"): v for k, v in headers.items()}
    return http.patch(f"{ENTRIES}/{entry_id}", json=payload, headers={**auth(token), **extra})


def all_pages(http: httpx.Client, limit: int) -> Iterator[list[dict[str, Any]]]:
    url: str | None = f"{ENTRIES}?limit={limit}"
    while url:
        r = http.get(url)
        assert r.status_code == 200, r.text
        page = r.json()
        yield page["entries"]
        url = f"{ENTRIES}?limit={limit}&before={page['next']}" if page["next"] else None


# --- writing and reading ----------------------------------------------------------------------


def test_created_entry_has_every_documented_field(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """POST .../entries answers 201 with id, version 1, rendered html, flags, times and author."""
    r = http.post(
        ENTRIES,
        json={"headline": "Exit poll", "body": "Turnout **71%**", "key_event": True},
        headers=auth(tokens.editor),
    )
    assert r.status_code == 201, r.text
    entry = r.json()
    assert set(entry) == {
        "id", "version", "headline", "body", "html", "pinned", "key_event", "status",
        "published_at", "updated_at", "author", "correction", "media",
    }  # fmt: skip
    assert entry["version"] == 1
    assert r.headers["etag"] == '"1"'
    assert (entry["headline"], entry["body"]) == ("Exit poll", "Turnout **71%**")
    assert entry["html"] == "<p>Turnout <strong>71%</strong></p>\n"
    assert (entry["pinned"], entry["key_event"], entry["status"]) == (False, True, "published")
    assert entry["published_at"].endswith("Z")
    assert entry["author"] == {"name": "eddie"}
    assert entry["correction"] is None
    fetched = http.get(f"{ENTRIES}/{entry['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == entry


def test_raw_html_in_a_body_is_shown_as_text(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """A <script> in Markdown never reaches the rendered html as a tag."""
    entry = post(http, tokens.editor, body="<script>alert(1)</script> [x](javascript:alert(1))")
    assert "<script" not in entry["html"]
    assert "<a" not in entry["html"]  # the javascript: link is left as inert text


def test_unicode_text_round_trips(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """Non-Latin scripts, emoji and right-to-left text are stored and served unchanged."""
    text = "Київ 🗳️ — انتخابات — 東京 — \u200f\u05e2\u05d1\u05e8\u05d9\u05ea"
    entry = post(http, tokens.editor, headline=text, body=text)
    again = http.get(f"{ENTRIES}/{entry['id']}").json()
    assert (again["headline"], again["body"]) == (text, text)


def test_list_is_newest_first_with_pinned_flag(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """The public list shows published entries newest first, drafts left out, pin flag shown."""
    a = post(http, tokens.editor, body="first")
    post(http, tokens.contributor, body="a draft", status="draft")
    b = post(http, tokens.editor, body="second", pinned=True)
    c = post(http, tokens.editor, body="third")
    listed = http.get(ENTRIES).json()
    assert [e["id"] for e in listed["entries"]] == [c["id"], b["id"], a["id"]]
    assert [e["pinned"] for e in listed["entries"]] == [False, True, False]
    assert listed["blog"] == {"slug": SLUG, "seq": 3, "status": "live"}
    assert listed["next"] is None


def test_drafts_and_submissions_are_invisible_to_the_public(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Without a token an unpublished entry is 404, and it never enters the event log."""
    draft = post(http, tokens.contributor, body="secret draft", status="draft")
    submitted = post(http, tokens.contributor, body="secret submission", status="submitted")
    for entry in (draft, submitted):
        r = http.get(f"{ENTRIES}/{entry['id']}")
        assert r.status_code == 404
        assert r.json()["error"]
    assert http.get(ENTRIES).json()["entries"] == []
    events = http.get(f"/api/blogs/{SLUG}/events")
    assert events.json()["events"] == []
    assert "secret" not in events.text


def test_author_and_editors_see_a_draft_but_other_contributors_do_not(
    live: LiveServer, http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """A draft is visible to its author and to editors; another contributor gets 404."""
    live.svc.create_user("carl", Role.CONTRIBUTOR, None)
    other = live.svc.create_token("carl")
    draft = post(http, tokens.contributor, body="my draft", status="draft")
    url = f"{ENTRIES}/{draft['id']}"
    assert http.get(url, headers=auth(tokens.contributor)).status_code == 200
    assert http.get(url, headers=auth(tokens.editor)).status_code == 200
    assert http.get(url, headers=auth(other)).status_code == 404
    assert http.get(f"{url}/revisions", headers=auth(other)).status_code == 404
    assert patch(http, other, draft["id"], {"body": "mine now", "version": 1}).status_code == 404


# --- pagination ---------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 3, 7, 25])
def test_paging_yields_every_entry_exactly_once(
    http: httpx.Client, tokens: Tokens, blog: dict, limit: int
) -> None:
    """Following `next` visits every published entry once, newest first, whatever the page size."""
    ids = [post(http, tokens.editor, body=f"update {i}")["id"] for i in range(12)]
    seen = [e["id"] for page in all_pages(http, limit) for e in page]
    assert seen == list(reversed(ids))


def test_paging_stays_exact_while_entries_arrive_and_change(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Publishing and pinning between page requests neither repeats nor skips an older entry."""
    before = [post(http, tokens.editor, body=f"old {i}")["id"] for i in range(10)]
    url: str | None = f"{ENTRIES}?limit=3"
    seen: list[int] = []
    round_ = 0
    while url:
        page = http.get(url).json()
        seen += [e["id"] for e in page["entries"]]
        # Between pages: new entries land on top, and an old one is pinned and edited.
        post(http, tokens.editor, body=f"new {round_}")
        if round_ == 1:
            r = patch(http, tokens.editor, before[0], {"pinned": True, "body": "x", "version": 1})
            assert r.status_code == 200, r.text
        round_ += 1
        url = f"{ENTRIES}?limit=3&before={page['next']}" if page["next"] else None
    assert seen == list(reversed(before))


def test_paging_is_exact_when_entries_share_a_publish_time(
    live: LiveServer, http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Entries published in the same microsecond are ordered by id; no page boundary loses one."""
    moment = datetime(2025, 11, 5, 3, 0, tzinfo=UTC)
    live.svc.clock = lambda: moment
    ids = [post(http, tokens.editor, body=f"same time {i}")["id"] for i in range(7)]
    for limit in (1, 2, 3):
        seen = [e["id"] for page in all_pages(http, limit) for e in page]
        assert seen == list(reversed(ids)), limit


def test_each_page_has_its_own_etag(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """Page 1's ETag does not make page 2 (or another page size) answer 304."""
    for i in range(4):
        post(http, tokens.editor, body=f"update {i}")
    first = http.get(f"{ENTRIES}?limit=2")
    tag = first.headers["etag"]
    assert http.get(f"{ENTRIES}?limit=2", headers={"If-None-Match": tag}).status_code == 304
    second = http.get(
        f"{ENTRIES}?limit=2&before={first.json()['next']}", headers={"If-None-Match": tag}
    )
    assert second.status_code == 200
    assert len(second.json()["entries"]) == 2
    other_size = http.get(f"{ENTRIES}?limit=3", headers={"If-None-Match": tag})
    assert other_size.status_code == 200
    post(http, tokens.editor, body="news")
    assert http.get(f"{ENTRIES}?limit=2", headers={"If-None-Match": tag}).status_code == 200


def test_bad_paging_parameters_are_422(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """Garbage cursors and out-of-range limits name the parameter instead of failing."""
    post(http, tokens.editor, body="one")
    cases = {
        "before": [
            "garbage",
            "!!!!",
            "MDo5OTk5OTk5OTk5OTk5OTk5OTk5OQ",
            "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk6MQ",
            "ü€",
            "%00",
        ],
        "limit": ["0", "-1", "101", "abc", "1.5", "99999999999999999999999"],
    }
    for field, values in cases.items():
        for value in values:
            r = http.get(ENTRIES, params={field: value})
            assert r.status_code == 422, (field, value, r.text)
            assert r.json()["field"] == field


# --- editing ------------------------------------------------------------------------------


def test_edit_with_if_match_bumps_the_version(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """PATCH with If-Match of the current version saves, answers 200 and the next version."""
    entry = post(http, tokens.editor, headline="Early", body="Count starts")
    r = patch(http, tokens.editor, entry["id"], {"body": "Count under way"}, if_match='"1"')
    assert r.status_code == 200, r.text
    edited = r.json()
    assert (edited["version"], edited["body"]) == (2, "Count under way")
    assert edited["html"] == "<p>Count under way</p>\n"
    assert edited["headline"] == "Early"
    assert r.headers["etag"] == '"2"'
    assert edited["published_at"] == entry["published_at"]
    weak = patch(http, tokens.editor, entry["id"], {"headline": "Later"}, if_match='W/"2"')
    assert weak.status_code == 200
    assert weak.json()["version"] == 3
    event_types = [e["type"] for e in http.get(f"/api/blogs/{SLUG}/events").json()["events"]]
    assert event_types == ["entry-published", "entry-updated", "entry-updated"]


def test_stale_if_match_is_412_with_the_current_entry(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """A second editor's If-Match on an old version gets 412 and the colleague's saved text."""
    entry = post(http, tokens.editor, body="v1")
    assert patch(
        http, tokens.editor, entry["id"], {"body": "v2 by eddie"}, if_match='"1"'
    ).is_success
    r = patch(http, tokens.admin, entry["id"], {"body": "v2 by ada"}, if_match='"1"')
    assert r.status_code == 412
    error = r.json()
    assert "version 2" in error["error"]
    assert error["current"]["body"] == "v2 by eddie"
    assert error["current"]["version"] == 2
    assert http.get(f"{ENTRIES}/{entry['id']}").json()["body"] == "v2 by eddie"


def test_stale_body_version_is_409_with_the_current_entry(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """A stale `version` in the body gets 409 and the current entry, and nothing is saved."""
    entry = post(http, tokens.editor, body="v1")
    assert patch(http, tokens.editor, entry["id"], {"body": "v2", "version": 1}).status_code == 200
    r = patch(http, tokens.admin, entry["id"], {"body": "overwrite", "version": 1})
    assert r.status_code == 409
    assert r.json()["current"] == http.get(f"{ENTRIES}/{entry['id']}").json()
    assert r.json()["current"]["body"] == "v2"
    future = patch(http, tokens.admin, entry["id"], {"body": "overwrite", "version": 10**30})
    assert future.status_code == 409


def test_edit_without_a_version_is_428(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """An edit that does not say which version it saw is refused with 428 and a hint."""
    entry = post(http, tokens.editor, body="v1")
    r = patch(http, tokens.editor, entry["id"], {"body": "blind overwrite"})
    assert r.status_code == 428
    assert "If-Match" in r.json()["error"]
    assert http.get(f"{ENTRIES}/{entry['id']}").json()["body"] == "v1"


def test_garbage_if_match_is_a_clear_error(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """If-Match values that are not a version are refused with 422 naming If-Match."""
    entry = post(http, tokens.editor, body="v1")
    for value in ["*", "abc", '"1", "2"', '"-1"', '"1.0"', '"' + "9" * 5000 + '"', '"1', "W/", ""]:
        r = patch(http, tokens.editor, entry["id"], {"body": "x"}, if_match=value)
        assert r.status_code in (422, 428), (value[:20], r.text)
        assert r.json()["error"]
    assert http.get(f"{ENTRIES}/{entry['id']}").json()["version"] == 1


def test_correction_note_is_shown_and_bumps_the_version(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """A correction with the fix is public on the entry and counts as a content edit."""
    entry = post(http, tokens.editor, body="Turnout 17%")
    r = patch(
        http, tokens.editor, entry["id"],
        {"body": "Turnout 71%", "correction": "Turnout was misstated.", "version": 1},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["version"] == 2
    assert data["correction"]["note"] == "Turnout was misstated."
    assert data["correction"]["at"].endswith("Z")
    public = http.get(f"{ENTRIES}/{entry['id']}").json()
    assert public["correction"] == data["correction"]


def test_pin_and_key_event_toggles_keep_the_version(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Pin and key-event toggles are not content edits: the version stays, events still go out."""
    entry = post(http, tokens.editor, body="Results")
    for change in ({"pinned": True}, {"key_event": True}, {"pinned": False}):
        r = patch(http, tokens.editor, entry["id"], {**change, "version": 1})
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 1
    final = http.get(f"{ENTRIES}/{entry['id']}").json()
    assert (final["pinned"], final["key_event"], final["version"]) == (False, True, 1)
    revisions = http.get(f"{ENTRIES}/{entry['id']}/revisions", headers=auth(tokens.editor))
    assert [r["version"] for r in revisions.json()["revisions"]] == [1]
    types = [e["type"] for e in http.get(f"/api/blogs/{SLUG}/events").json()["events"]]
    assert types == ["entry-published"] + ["entry-updated"] * 3


def test_every_revision_is_kept(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """Each content edit stores a revision: the original text and every later one, with editor."""
    entry = post(http, tokens.editor, headline="H1", body="first text")
    steps = [
        (tokens.editor, {"body": "second text"}),
        (tokens.admin, {"headline": "H3"}),
        (tokens.editor, {"correction": "Fixed a name."}),
    ]
    for version, (token, change) in enumerate(steps, start=1):
        r = patch(http, token, entry["id"], {**change, "version": version})
        assert r.status_code == 200, r.text
    r = http.get(f"{ENTRIES}/{entry['id']}/revisions", headers=auth(tokens.editor))
    assert r.status_code == 200
    revisions = r.json()["revisions"]
    assert [(v["version"], v["headline"], v["body"]) for v in revisions] == [
        (1, "H1", "first text"),
        (2, "H1", "second text"),
        (3, "H3", "second text"),
        (4, "H3", "second text"),
    ]
    assert [v["editor"] for v in revisions] == ["eddie", "eddie", "ada", "eddie"]
    assert revisions[3]["correction"] == "Fixed a name."
    assert revisions[0]["html"] == "<p>first text</p>\n"
    # The history is for staff, not the public.
    assert http.get(f"{ENTRIES}/{entry['id']}/revisions").status_code == 401


def test_saving_identical_text_is_not_a_new_version(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """A PATCH that changes nothing answers 200 with the same version and logs no event."""
    entry = post(http, tokens.editor, headline="Same", body="Same")
    r = patch(http, tokens.editor, entry["id"], {"headline": "Same", "body": "Same", "version": 1})
    assert r.status_code == 200
    assert r.json()["version"] == 1
    assert http.get(f"/api/blogs/{SLUG}").json()["seq"] == 1


def test_draft_to_submitted_to_published(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """A contributor's draft can be submitted (and stays submitted); an editor then publishes it."""
    draft = post(http, tokens.contributor, body="From the polling station", status="draft")
    assert (draft["status"], draft["published_at"]) == ("draft", None)
    r = patch(http, tokens.contributor, draft["id"], {"status": "submitted", "version": 1})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "submitted"
    seen = http.get(f"{ENTRIES}/{draft['id']}", headers=auth(tokens.editor)).json()
    assert seen["status"] == "submitted"  # the change was saved, not just echoed
    assert http.get(f"/api/blogs/{SLUG}/events").json()["events"] == []

    r = patch(http, tokens.editor, draft["id"], {"status": "published", "version": 1})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "published"
    assert r.json()["published_at"] is not None
    public = http.get(ENTRIES).json()["entries"]
    assert [e["id"] for e in public] == [draft["id"]]
    events = http.get(f"/api/blogs/{SLUG}/events").json()["events"]
    assert [e["type"] for e in events] == ["entry-published"]

    back = patch(http, tokens.editor, draft["id"], {"status": "draft", "version": 1})
    assert back.status_code == 409  # retract instead


def test_unknown_entry_status_is_422(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """Only draft, submitted, scheduled and published can be written; others name the field."""
    for status in ("retracted", "PUBLISHED", ""):
        r = http.post(ENTRIES, json={"body": "x", "status": status}, headers=auth(tokens.editor))
        assert r.status_code == 422, status
        assert r.json()["field"] == "status"
    assert http.get(ENTRIES).json()["entries"] == []


# --- pinning ------------------------------------------------------------------------------


def test_only_one_entry_is_pinned_at_a_time(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """Pinning a second entry unpins the first, and the unpin is itself an event."""
    a = post(http, tokens.editor, body="A", pinned=True)
    b = post(http, tokens.editor, body="B")
    r = patch(http, tokens.editor, b["id"], {"pinned": True, "version": 1})
    assert r.status_code == 200
    pinned = {e["id"]: e["pinned"] for e in http.get(ENTRIES).json()["entries"]}
    assert pinned == {a["id"]: False, b["id"]: True}

    c = post(http, tokens.editor, body="C", pinned=True)  # pinned on creation
    pinned = {e["id"]: e["pinned"] for e in http.get(ENTRIES).json()["entries"]}
    assert pinned == {a["id"]: False, b["id"]: False, c["id"]: True}
    events = http.get(f"/api/blogs/{SLUG}/events").json()["events"]
    unpins = [
        e["data"]["entry"]["id"]
        for e in events
        if e["type"] == "entry-updated" and not e["data"]["entry"]["pinned"]
    ]
    assert unpins == [a["id"], b["id"]]


def test_publishing_a_pinned_draft_unpins_the_current_pin(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """A draft prepared with a pin takes the pin over only when it is published."""
    live_pin = post(http, tokens.editor, body="Live pin", pinned=True)
    draft = post(http, tokens.editor, body="Next pin", pinned=True, status="draft")
    assert http.get(f"{ENTRIES}/{live_pin['id']}").json()["pinned"] is True
    r = patch(http, tokens.editor, draft["id"], {"status": "published", "version": 1})
    assert r.status_code == 200
    pinned = [e["id"] for e in http.get(ENTRIES).json()["entries"] if e["pinned"]]
    assert pinned == [draft["id"]]


# --- retraction ---------------------------------------------------------------------------


def test_retract_with_a_public_note_leaves_a_410_tombstone(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """DELETE with a public note: 204, then the entry answers 410 carrying that note."""
    entry = post(http, tokens.editor, body="Unverified claim")
    r = http.request(
        "DELETE", f"{ENTRIES}/{entry['id']}",
        json={"public_note": "Removed: the claim could not be verified."},
        headers=auth(tokens.editor),
    )  # fmt: skip
    assert r.status_code == 204
    gone = http.get(f"{ENTRIES}/{entry['id']}")
    assert gone.status_code == 410
    assert gone.json()["public_note"] == "Removed: the claim could not be verified."
    assert "Unverified" not in gone.text
    assert http.get(ENTRIES).json()["entries"] == []


def test_retract_without_a_note_is_plain_404(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """DELETE with no body retracts silently: the entry is then simply not found."""
    entry = post(http, tokens.editor, body="Wrong", pinned=True)
    r = http.delete(f"{ENTRIES}/{entry['id']}", headers=auth(tokens.editor))
    assert r.status_code == 204
    assert http.get(f"{ENTRIES}/{entry['id']}").status_code == 404
    assert http.get(ENTRIES).json()["entries"] == []
    events = http.get(f"/api/blogs/{SLUG}/events").json()["events"]
    assert [e["type"] for e in events] == ["entry-published", "entry-retracted"]
    assert "Wrong" not in http.get(f"/api/blogs/{SLUG}/events").text
    again = http.delete(f"{ENTRIES}/{entry['id']}", headers=auth(tokens.editor))
    assert again.status_code == 404
    edit = patch(http, tokens.editor, entry["id"], {"body": "revive", "version": 1})
    assert edit.status_code == 404


# --- limits -------------------------------------------------------------------------------


def test_markdown_body_limit_is_100_kb(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """100,000 bytes of Markdown is accepted; one byte more is refused, naming the body."""
    assert post(http, tokens.editor, body="a" * 100_000)["body"] == "a" * 100_000
    r = http.post(ENTRIES, json={"body": "a" * 100_001}, headers=auth(tokens.editor))
    assert r.status_code == 413
    assert r.json()["field"] == "body"
    assert "100000 bytes" in r.json()["error"]
    # Bytes, not characters: 25,001 four-byte emoji are over the limit.
    r = http.post(ENTRIES, json={"body": "🗳" * 25_001}, headers=auth(tokens.editor))
    assert r.status_code == 413
    entry = http.get(ENTRIES).json()["entries"][0]
    r = patch(http, tokens.editor, entry["id"], {"body": "b" * 100_001, "version": 1})
    assert r.status_code == 413
    assert r.json()["field"] == "body"


def test_markdown_nesting_limit_names_the_body(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Markdown nested past depth 20 gets 422 naming the body; modest nesting is fine."""
    post(http, tokens.editor, body="> " * 10 + "quoted")
    for body in ["> " * 40 + "deep", "\n".join("  " * i + "- item" for i in range(40))]:
        r = http.post(ENTRIES, json={"body": body}, headers=auth(tokens.editor))
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "body"
        assert "20" in r.json()["error"]


def test_request_body_over_one_mib_is_413(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """A request body over 1 MiB is refused with 413 before any handler sees it."""
    big = b'{"body": "' + b"a" * (1024 * 1024) + b'"}'
    r = http.post(
        ENTRIES, content=big, headers={**auth(tokens.editor), "Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert "limit" in r.json()["error"]
    assert http.get(ENTRIES).json()["entries"] == []


def test_chunked_request_body_over_one_mib_is_413(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """A chunked upload with no Content-Length cannot slip past the 1 MiB limit."""

    def chunks() -> Iterator[bytes]:
        yield b'{"body": "'
        for _ in range(20):
            yield b"a" * 65536
        yield b'"}'

    r = http.post(
        ENTRIES, content=chunks(),
        headers={**auth(tokens.editor), "Content-Type": "application/json"},
    )  # fmt: skip
    assert r.status_code == 413
    assert http.get(ENTRIES).json()["entries"] == []


def test_chunked_request_under_the_limit_still_works(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """The size check hands a small chunked body through to the handler unchanged."""

    def chunks() -> Iterator[bytes]:
        yield b'{"body": '
        yield b'"chunked hello"}'

    r = http.post(
        ENTRIES, content=chunks(),
        headers={**auth(tokens.editor), "Content-Type": "application/json"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["body"] == "chunked hello"


def test_entry_blog_list_and_front_page_tell_caches_to_revalidate(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """An entry's ETag (its edit version) survives a retraction, so neither it nor the blog
    list nor the front page may be served from a cache without asking again."""
    entry = post(http, tokens.editor, body="x")
    for path in (f"{ENTRIES}/{entry['id']}", "/api/blogs", "/"):
        assert http.get(path).headers["cache-control"] == "no-cache", path
