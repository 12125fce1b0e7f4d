"""The blog half of the JSON API over real HTTP: create, read, revalidate, edit, end, events."""

from __future__ import annotations

import re

import httpx

from conftest import LiveServer, Tokens, auth

SLUG = "election-night"
ISO_UTC = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"


def test_create_blog_returns_it_with_every_field(http: httpx.Client, tokens: Tokens) -> None:
    """POST /api/blogs answers 201 with the stored blog: live, seq 0, the given fields."""
    r = http.post(
        "/api/blogs",
        json={
            "slug": "storm-2025",
            "title": "  Storm watch  ",
            "description": "Landfall expected tonight",
            "key_points": ["Red warning in the north", "Schools closed"],
            "language": "pt-BR",
            "timezone": "America/Sao_Paulo",
        },
        headers=auth(tokens.editor),
    )
    assert r.status_code == 201, r.text
    blog = r.json()
    assert blog["slug"] == "storm-2025"
    assert blog["title"] == "Storm watch"
    assert blog["description"] == "Landfall expected tonight"
    assert blog["key_points"] == ["Red warning in the north", "Schools closed"]
    assert (blog["language"], blog["timezone"]) == ("pt-BR", "America/Sao_Paulo")
    assert (blog["status"], blog["seq"], blog["ended_at"]) == ("live", 0, None)
    assert blog["created_at"] == blog["updated_at"]
    assert re.match(ISO_UTC, blog["created_at"])


def test_create_blog_defaults(http: httpx.Client, tokens: Tokens) -> None:
    """Only slug and title are required; the rest default to empty, English and UTC."""
    r = http.post("/api/blogs", json={"slug": "min", "title": "T"}, headers=auth(tokens.admin))
    assert r.status_code == 201, r.text
    blog = r.json()
    assert (blog["description"], blog["key_points"]) == ("", [])
    assert (blog["language"], blog["timezone"]) == ("en", "UTC")


def test_duplicate_slug_is_409_and_keeps_the_first(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """A second blog with a taken slug is refused with 409 and the first blog is untouched."""
    r = http.post("/api/blogs", json={"slug": SLUG, "title": "Other"}, headers=auth(tokens.admin))
    assert r.status_code == 409
    assert SLUG in r.json()["error"]
    assert http.get(f"/api/blogs/{SLUG}").json()["title"] == "Election night"


def test_invalid_blog_fields_name_the_field(http: httpx.Client, tokens: Tokens) -> None:
    """Each bad blog field gives 422 with that field named."""
    cases = {
        "slug": {"slug": "Not A Slug", "title": "T"},
        "title": {"slug": "a", "title": "   "},
        "timezone": {"slug": "b", "title": "T", "timezone": "Mars/Olympus_Mons"},
        "language": {"slug": "c", "title": "T", "language": "english please"},
        "key_points": {"slug": "d", "title": "T", "key_points": ["x"] * 11},
        "key_points[0]": {"slug": "e", "title": "T", "key_points": [" "]},
        "description": {"slug": "f", "title": "T", "description": "x" * 2001},
    }
    for field, payload in cases.items():
        r = http.post("/api/blogs", json=payload, headers=auth(tokens.editor))
        assert r.status_code == 422, (field, r.text)
        assert r.json()["field"] == field, r.text
    assert http.get("/api/blogs").json()["blogs"] == []


def test_timezone_names_that_touch_the_filesystem_are_422(
    http: httpx.Client, tokens: Tokens
) -> None:
    """A zone directory ("America"), a path or an over-long name is a clear 422, not a crash."""
    for name in ["America", "../../../etc/passwd", "a" * 5000, "Europe/", "/UTC"]:
        r = http.post(
            "/api/blogs", json={"slug": "tz", "title": "T", "timezone": name},
            headers=auth(tokens.editor),
        )  # fmt: skip
        assert r.status_code == 422, (name[:20], r.text[:200])
        assert r.json()["field"] == "timezone"


def test_get_blog_shows_status_seq_key_points_and_timestamps(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """GET /api/blogs/{slug} is public and reports the blog's current seq after each change."""
    http.post(f"/api/blogs/{SLUG}/entries", json={"body": "one"}, headers=auth(tokens.editor))
    r = http.get(f"/api/blogs/{SLUG}")
    assert r.status_code == 200
    data = r.json()
    assert data["status"] == "live"
    assert data["seq"] == 1
    assert data["key_points"] == ["Polls close at 22:00"]
    assert (data["timezone"], data["language"]) == ("Europe/Berlin", "de")
    for key in ("created_at", "updated_at"):
        assert data[key].endswith("Z")
    assert data["ended_at"] is None


def test_blog_etag_revalidates_until_the_blog_changes(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """If-None-Match with the blog's ETag gets 304 until a write moves seq, then 200 again."""
    first = http.get(f"/api/blogs/{SLUG}")
    etag = first.headers["etag"]
    again = http.get(f"/api/blogs/{SLUG}", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["etag"] == etag
    assert again.content == b""
    # Weak comparison: the same tag without W/, or among others, still matches.
    bare = etag.removeprefix("W/")
    assert http.get(f"/api/blogs/{SLUG}", headers={"If-None-Match": bare}).status_code == 304
    listed = f'"nope", {etag}'
    assert http.get(f"/api/blogs/{SLUG}", headers={"If-None-Match": listed}).status_code == 304

    http.patch(f"/api/blogs/{SLUG}", json={"title": "Results"}, headers=auth(tokens.editor))
    changed = http.get(f"/api/blogs/{SLUG}", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["title"] == "Results"
    assert changed.headers["etag"] != etag


def test_patch_blog_edits_title_description_and_key_points(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """PATCH changes only the fields given, moves seq by one and logs a blog-updated event."""
    r = http.patch(
        f"/api/blogs/{SLUG}",
        json={"description": "Live results", "key_points": ["Turnout 71%", "Count under way"]},
        headers=auth(tokens.editor),
    )
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["title"] == "Election night"
    assert data["description"] == "Live results"
    assert data["key_points"] == ["Turnout 71%", "Count under way"]
    assert data["seq"] == 1
    events = http.get(f"/api/blogs/{SLUG}/events").json()["events"]
    assert [e["type"] for e in events] == ["blog-updated"]
    assert events[0]["data"]["blog"]["key_points"] == ["Turnout 71%", "Count under way"]

    cleared = http.patch(f"/api/blogs/{SLUG}", json={"key_points": []}, headers=auth(tokens.editor))
    assert cleared.json()["key_points"] == []


def test_patch_blog_with_no_real_change_logs_nothing(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Saving the same values again (or an empty patch) leaves seq and the log alone."""
    for payload in ({}, {"title": "Election night"}, {"status": "live"}):
        r = http.patch(f"/api/blogs/{SLUG}", json=payload, headers=auth(tokens.editor))
        assert r.status_code == 200, r.text
        assert r.json()["seq"] == 0
    assert http.get(f"/api/blogs/{SLUG}/events").json()["events"] == []


def test_end_and_reopen_a_blog(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """status "ended" ends the blog (publishing is then refused), "live" reopens it."""
    editor = auth(tokens.editor)
    ended = http.patch(f"/api/blogs/{SLUG}", json={"status": "ended"}, headers=editor)
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "ended"
    assert ended.json()["ended_at"] is not None
    assert http.get(f"/api/blogs/{SLUG}").json()["status"] == "ended"

    refused = http.post(f"/api/blogs/{SLUG}/entries", json={"body": "late"}, headers=editor)
    assert refused.status_code == 409
    assert "ended" in refused.json()["error"]
    draft = http.post(
        f"/api/blogs/{SLUG}/entries", json={"body": "wrap-up", "status": "draft"}, headers=editor
    )
    assert draft.status_code == 201  # drafting the wrap-up is still fine

    reopened = http.patch(f"/api/blogs/{SLUG}", json={"status": "live"}, headers=editor)
    assert reopened.status_code == 200
    assert (reopened.json()["status"], reopened.json()["ended_at"]) == ("live", None)
    again = http.post(f"/api/blogs/{SLUG}/entries", json={"body": "back"}, headers=editor)
    assert again.status_code == 201

    types = [e["type"] for e in http.get(f"/api/blogs/{SLUG}/events").json()["events"]]
    assert types == ["blog-ended", "blog-updated", "entry-published"]


def test_unknown_blog_status_is_422(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """Only "live" and "ended" are blog states; anything else names the status field."""
    for status in ("paused", "", "ENDED", "draft"):
        r = http.patch(f"/api/blogs/{SLUG}", json={"status": status}, headers=auth(tokens.admin))
        assert r.status_code == 422, status
        assert r.json()["field"] == "status"
    assert http.get(f"/api/blogs/{SLUG}").json()["status"] == "live"


def test_list_blogs_is_public(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """GET /api/blogs lists blogs without a token."""
    r = http.get("/api/blogs")
    assert r.status_code == 200
    assert [b["slug"] for b in r.json()["blogs"]] == [SLUG]


def test_events_after_n_return_exactly_the_later_events(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """?after=N gives the events with seq > N in order, and `next` is where to poll from."""
    editor = auth(tokens.editor)
    for i in range(5):
        http.post(f"/api/blogs/{SLUG}/entries", json={"body": f"update {i}"}, headers=editor)
    everything = http.get(f"/api/blogs/{SLUG}/events").json()
    assert [e["seq"] for e in everything["events"]] == [1, 2, 3, 4, 5]
    assert (everything["next"], everything["seq"]) == (5, 5)
    first = everything["events"][0]
    assert first["type"] == "entry-published"
    assert first["data"]["entry"]["body"] == "update 0"
    assert first["created_at"].endswith("Z")

    later = http.get(f"/api/blogs/{SLUG}/events?after=3").json()
    assert [e["seq"] for e in later["events"]] == [4, 5]
    assert later["next"] == 5
    caught_up = http.get(f"/api/blogs/{SLUG}/events?after=5").json()
    assert (caught_up["events"], caught_up["next"]) == ([], 5)
    limited = http.get(f"/api/blogs/{SLUG}/events?after=1&limit=2").json()
    assert [e["seq"] for e in limited["events"]] == [2, 3]
    assert limited["next"] == 3


def test_events_after_a_seq_the_blog_never_reached_points_back_to_the_end(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """A client ahead of the log is told the real end as `next`, so its next poll sees news."""
    http.post(f"/api/blogs/{SLUG}/entries", json={"body": "one"}, headers=auth(tokens.editor))
    ahead = http.get(f"/api/blogs/{SLUG}/events?after=40").json()
    assert (ahead["events"], ahead["next"], ahead["seq"]) == ([], 1, 1)
    http.post(f"/api/blogs/{SLUG}/entries", json={"body": "two"}, headers=auth(tokens.editor))
    following = http.get(f"/api/blogs/{SLUG}/events?after={ahead['next']}").json()
    assert [e["data"]["entry"]["body"] for e in following["events"]] == ["two"]


def test_events_come_at_most_500_at_a_time(
    live: LiveServer, http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """With 520 events in the log a poll returns 500; following `next` returns the other 20."""
    svc = live.svc
    editor = svc.user_for_token(tokens.editor)
    for i in range(520):
        svc.update_blog(editor, SLUG, {"description": f"revision {i}"})
    first = http.get(f"/api/blogs/{SLUG}/events")
    assert first.status_code == 200
    page = first.json()
    assert len(page["events"]) == 500
    assert page["next"] == 500
    rest = http.get(f"/api/blogs/{SLUG}/events?after={page['next']}").json()
    assert [e["seq"] for e in rest["events"]] == list(range(501, 521))
    too_many = http.get(f"/api/blogs/{SLUG}/events?limit=501")
    assert too_many.status_code == 422
    assert too_many.json()["field"] == "limit"


def test_events_etag_depends_on_the_query(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """The events validator differs per `after`, so one poll's 304 cannot answer another."""
    http.post(f"/api/blogs/{SLUG}/entries", json={"body": "one"}, headers=auth(tokens.editor))
    tag = http.get(f"/api/blogs/{SLUG}/events?after=0").headers["etag"]
    same = http.get(f"/api/blogs/{SLUG}/events?after=0", headers={"If-None-Match": tag})
    assert same.status_code == 304
    other = http.get(f"/api/blogs/{SLUG}/events?after=1", headers={"If-None-Match": tag})
    assert other.status_code == 200


def test_openapi_document_describes_the_api(http: httpx.Client) -> None:
    """/api/openapi.json is served and lists every API route with its methods."""
    r = http.get("/api/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    expected = {
        "/api/blogs": {"get", "post"},
        "/api/blogs/{slug}": {"get", "patch"},
        "/api/blogs/{slug}/entries": {"get", "post"},
        "/api/blogs/{slug}/entries/{entry_id}": {"get", "patch", "delete"},
        "/api/blogs/{slug}/entries/{entry_id}/revisions": {"get"},
        "/api/blogs/{slug}/events": {"get"},
        "/api/blogs/{slug}/media": {"get", "post"},
        "/api/blogs/{slug}/entries/{entry_id}/withdrawn": {"get"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
    entry_schema = doc["components"]["schemas"]["EntryIn"]
    assert {"body", "media"} <= set(entry_schema["properties"])
    upload = paths["/api/blogs/{slug}/media"]["post"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["required"] == ["file", "alt"]


def test_a_blogs_language_and_time_zone_can_be_changed(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """An editor moves a blog to Ukrainian and Kyiv time: the JSON, the page's lang and its
    server-rendered times follow at once (a new seq); an unknown language or zone is 422 with
    the field named; a contributor gets 403; the audit log names the fields, not their values."""
    slug = blog["slug"]
    http.post(f"/api/blogs/{slug}/entries", json={"body": "Sirens"}, headers=auth(tokens.editor))
    before = http.get(f"/api/blogs/{slug}").json()
    changed = http.patch(
        f"/api/blogs/{slug}",
        json={"language": "uk", "timezone": "Europe/Kyiv"},
        headers=auth(tokens.editor),
    )
    assert changed.status_code == 200, changed.text
    after = http.get(f"/api/blogs/{slug}").json()
    assert (after["language"], after["timezone"]) == ("uk", "Europe/Kyiv")
    assert after["seq"] == before["seq"] + 1
    page = http.get(f"/blogs/{slug}").text
    assert '<html lang="uk"' in page
    assert re.search(r"\d\d:\d\d EE[S]?T", page), "times are not shown in Kyiv's zone"
    for field, value in (("language", "not a language!"), ("timezone", "Mars/Olympus")):
        bad = http.patch(f"/api/blogs/{slug}", json={field: value}, headers=auth(tokens.editor))
        assert bad.status_code == 422 and bad.json()["field"] == field, bad.text
    refused = http.patch(
        f"/api/blogs/{slug}", json={"timezone": "UTC"}, headers=auth(tokens.contributor)
    )
    assert refused.status_code == 403
    records = http.get("/api/audit", params={"blog": slug}, headers=auth(tokens.editor)).json()
    edits = [r["detail"] for r in records["records"] if r["action"] == "blog.edit"]
    assert {"fields": ["language", "timezone"]} in edits
