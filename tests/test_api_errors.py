"""Errors from the JSON API: always a clear 4xx JSON body, never a 500, never a half-done write."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx

from conftest import LiveServer, Tokens, auth
from fuzzing import fuzz_reads, fuzz_writes

SLUG = "election-night"
ENTRIES = f"/api/blogs/{SLUG}/entries"
JSON = {"Content-Type": "application/json"}


def assert_json_error(r: httpx.Response, status: int | None = None) -> dict[str, Any]:
    assert r.status_code < 500, (r.request.method, r.request.url, r.text[:300])
    if status is not None:
        assert r.status_code == status, (r.request.method, r.request.url, r.text[:300])
    assert r.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = r.json()
    assert isinstance(error["error"], str) and error["error"].strip()
    assert error["status"] == r.status_code
    return error


def test_unknown_blog_is_404_json_everywhere(http: httpx.Client, tokens: Tokens) -> None:
    """Every API route under an unknown slug answers 404 with a JSON error, reads and writes."""
    editor = auth(tokens.editor)
    base = "/api/blogs/no-such-blog"
    calls = [
        ("GET", base, None), ("PATCH", base, {"title": "x"}),
        ("GET", f"{base}/entries", None), ("POST", f"{base}/entries", {"body": "x"}),
        ("GET", f"{base}/entries/1", None), ("PATCH", f"{base}/entries/1", {"version": 1}),
        ("DELETE", f"{base}/entries/1", None), ("GET", f"{base}/entries/1/revisions", None),
        ("GET", f"{base}/events", None),
    ]  # fmt: skip
    for method, url, payload in calls:
        r = http.request(method, url, json=payload, headers=editor)
        assert_json_error(r, 404)
        assert "no-such-blog" in r.json()["error"] or "entry" in r.json()["error"]


def test_unknown_entry_is_404_json(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """Entry ids that do not exist, including ones too big to store, are a plain 404."""
    editor = auth(tokens.editor)
    for entry_id in ("999", "0", "-1", str(2**63), "9" * 40):
        for method, payload in (("GET", None), ("PATCH", {"version": 1}), ("DELETE", None)):
            r = http.request(method, f"{ENTRIES}/{entry_id}", json=payload, headers=editor)
            assert_json_error(r, 404)
        assert_json_error(http.get(f"{ENTRIES}/{entry_id}/revisions", headers=editor), 404)
    assert_json_error(http.get(f"{ENTRIES}/not-a-number"), 422)


def test_unknown_api_route_and_method_are_json(http: httpx.Client) -> None:
    """A wrong path under /api is a JSON 404 and a wrong method a JSON 405."""
    assert_json_error(http.get("/api/nothing-here"), 404)
    assert_json_error(http.put("/api/blogs", json={}), 405)


def test_invalid_body_names_the_field(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """Missing, mistyped and unknown fields give 422 with the offending field named."""
    editor = auth(tokens.editor)
    cases: list[tuple[str, str, Any, str]] = [
        ("POST", ENTRIES, {}, "body"),
        ("POST", ENTRIES, {"body": 5}, "body"),
        ("POST", ENTRIES, {"body": "x", "pinned": "perhaps"}, "pinned"),
        ("POST", ENTRIES, {"body": "x", "colour": "red"}, "colour"),
        ("POST", ENTRIES, {"body": "   "}, "body"),
        ("POST", ENTRIES, {"body": "x", "headline": "h" * 301}, "headline"),
        ("POST", ENTRIES, {"body": "x", "headline": "bell\x07"}, "headline"),
        ("POST", "/api/blogs", {"slug": "x"}, "title"),
        ("POST", "/api/blogs", {"slug": "x", "title": "T", "key_points": [1]}, "key_points.0"),
        ("PATCH", f"/api/blogs/{SLUG}", {"title": None, "status": 3}, "status"),
        ("POST", ENTRIES, [], "body"),
        ("POST", ENTRIES, "just a string", "body"),
    ]
    for method, url, payload, field in cases:
        r = http.request(method, url, json=payload, headers=editor)
        error = assert_json_error(r, 422)
        assert error["field"] == field, (payload, error)
        assert field.split(".")[0] in error["error"]


def test_malformed_json_is_422_for_the_body(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """Broken JSON is reported against the body with where it broke, not a bare position."""
    r = http.post(ENTRIES, content=b'{"body": "x",', headers={**auth(tokens.editor), **JSON})
    error = assert_json_error(r, 422)
    assert error["field"] == "body"
    assert "JSON" in error["error"]


def test_body_sent_without_a_json_content_type_explains_itself(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """JSON sent as text/plain (or with no type) is refused with a hint about Content-Type."""
    for headers in ({"Content-Type": "text/plain"}, {}):
        r = http.post(ENTRIES, content=b'{"body": "x"}', headers={**auth(tokens.editor), **headers})
        error = assert_json_error(r, 422)
        assert "Content-Type" in error["error"]
    assert http.get(ENTRIES).json()["entries"] == []


def test_text_that_cannot_be_stored_is_422(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """Lone surrogates and NUL characters are refused with the field named, in every text field."""
    editor = {**auth(tokens.editor), **JSON}
    entry = http.post(ENTRIES, json={"body": "ok"}, headers=auth(tokens.editor)).json()
    raw_cases = [
        ("POST", "/api/blogs", '{"slug": "s", "title": "\\ud800"}', "title"),
        ("POST", "/api/blogs", '{"slug": "s", "title": "T", "timezone": "\\udfff"}', "timezone"),
        ("PATCH", f"/api/blogs/{SLUG}", '{"key_points": ["ok", "\\ud83d"]}', "key_points.1"),
        ("POST", ENTRIES, '{"body": "half an emoji \\ud83d"}', "body"),
        ("POST", ENTRIES, '{"body": "nul \\u0000 byte"}', "body"),
        ("PATCH", f"{ENTRIES}/{entry['id']}", '{"version": 1, "correction": "\\udc00"}',
         "correction"),
        ("DELETE", f"{ENTRIES}/{entry['id']}", '{"public_note": "\\ud800"}', "public_note"),
    ]  # fmt: skip
    for method, url, raw, field in raw_cases:
        r = http.request(method, url, content=raw.encode(), headers=editor)
        assert assert_json_error(r, 422)["field"] == field, raw
    assert http.get(f"/api/blogs/{SLUG}").json()["seq"] == 1


def test_huge_numbers_never_reach_the_database(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Ids, seqs and cursors beyond 64 bits are a 4xx, not a driver overflow."""
    big = str(10**25)
    assert_json_error(http.get(f"/api/blogs/{SLUG}/events?after={big}"), 422)
    assert_json_error(http.get(f"{ENTRIES}/{big}"), 404)
    cursor = base64.urlsafe_b64encode(f"0:{big}".encode()).decode()
    assert_json_error(http.get(f"{ENTRIES}?before={cursor}"), 422)
    huge_json = b'{"body": "x", "version": ' + b"9" * 5000 + b"}"
    r = http.post(ENTRIES, content=huge_json, headers={**auth(tokens.editor), **JSON})
    assert_json_error(r)


def test_a_rejected_request_changes_nothing(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """After a batch of refused writes the blog, entries, revisions and event log are as before."""
    editor, contributor = auth(tokens.editor), auth(tokens.contributor)
    published = http.post(ENTRIES, json={"body": "Original", "pinned": True}, headers=editor)
    pid = published.json()["id"]
    other = http.post(ENTRIES, json={"body": "Other"}, headers=editor).json()["id"]
    draft = http.post(ENTRIES, json={"body": "Mine", "status": "draft"}, headers=contributor)
    did = draft.json()["id"]

    def state() -> dict[str, Any]:
        return {
            "blog": http.get(f"/api/blogs/{SLUG}").json(),
            "blogs": http.get("/api/blogs").json(),
            "entries": http.get(f"{ENTRIES}?limit=100").json(),
            "events": http.get(f"/api/blogs/{SLUG}/events").json(),
            "draft": http.get(f"{ENTRIES}/{did}", headers=editor).json(),
            "revisions": [
                http.get(f"{ENTRIES}/{i}/revisions", headers=editor).json() for i in (pid, did)
            ],
        }

    before = state()
    url, durl = f"{ENTRIES}/{pid}", f"{ENTRIES}/{did}"
    rejected: list[tuple[str, str, dict[str, Any] | None, dict[str, str], int]] = [
        ("POST", ENTRIES, {"body": "anon"}, {}, 401),
        ("POST", ENTRIES, {"body": "published by contributor"}, contributor, 403),
        ("PATCH", url, {"body": "contrib edit", "version": 1}, contributor, 403),
        ("DELETE", url, None, contributor, 403),
        ("PATCH", f"/api/blogs/{SLUG}", {"status": "ended"}, contributor, 403),
        ("POST", "/api/blogs", {"slug": SLUG, "title": "Dup"}, editor, 409),
        ("PATCH", url, {"body": "stale"}, {**editor, "If-Match": '"7"'}, 412),
        ("PATCH", url, {"body": "stale", "version": 7}, editor, 409),
        ("PATCH", url, {"body": "blind"}, editor, 428),
        ("POST", ENTRIES, {"body": "x" * 100_001}, editor, 413),
        ("POST", ENTRIES, {"body": "> " * 50 + "deep"}, editor, 422),
        # Writes that fail part-way through must not leave their first half behind.
        ("PATCH", url, {"body": "half", "status": "bogus", "version": 1}, editor, 422),
        ("PATCH", url, {"body": "half", "correction": "c" * 1001, "version": 1}, editor, 422),
        ("PATCH", url, {"body": "half", "status": "draft", "version": 1}, editor, 409),
        ("PATCH", durl, {"body": "half", "pinned": True, "version": 1}, contributor, 403),
        ("PATCH", durl, {"body": "half", "status": "published", "version": 1}, contributor, 403),
        ("PATCH", f"/api/blogs/{SLUG}", {"title": "Half", "status": "paused"}, editor, 422),
        ("PATCH", f"/api/blogs/{SLUG}", {"title": "Half", "key_points": [""]}, editor, 422),
        ("PATCH", f"{ENTRIES}/{other}", {"pinned": True, "body": "", "version": 1}, editor, 422),
        ("POST", ENTRIES, {"body": "pin", "pinned": True, "status": "nope"}, editor, 422),
        ("DELETE", url, {"public_note": "n" * 1001}, editor, 422),
    ]
    for method, target, payload, headers, status in rejected:
        r = http.request(method, target, json=payload, headers=headers)
        assert_json_error(r, status)
    big = b'{"body": "' + b"a" * (1024 * 1024) + b'"}'
    assert_json_error(http.post(ENTRIES, content=big, headers={**editor, **JSON}), 413)

    assert state() == before


# --- fuzz (the long runs, over many seeds and both backends, are in test_fuzz.py) ----------


def test_fuzzed_requests_never_cause_a_server_error(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Hundreds of malformed requests at every write endpoint all get a < 500 JSON answer."""
    tally = fuzz_writes(http, tokens, seed=20251105, count=800)
    assert not tally.failures, "\n".join(tally.failures[:20])
    # The fuzz is only worth something if plenty of requests got past parsing.
    assert tally.past_parsing > 250, tally.statuses


def test_fuzzed_reads_never_cause_a_server_error(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Garbage query strings, paths and validators on every read endpoint get a < 500 answer."""
    failures = fuzz_reads(http, tokens, seed=4711, count=300)
    assert not failures, "\n".join(failures[:20])


def test_nul_characters_anywhere_are_refused_not_a_500_on_postgresql(
    pg_url: str, tmp_path: Path
) -> None:
    """PostgreSQL cannot hold or compare text with NUL: a NUL in a URL, a query or the login
    form gets a clear 4xx, never a server error."""
    server = LiveServer(pg_url, tmp_path).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            answers = [
                http.get("/api/blogs/%00"),
                http.get("/blogs/%00"),
                http.get("/api/audit", params={"blog": "\x00"}),
                http.post("/login", data={"username": "ed\x00die", "password": "x", "csrf": "x"}),
            ]
    finally:
        server.stop()
    for response in answers:
        assert 400 <= response.status_code < 500, (response.request.url, response.text[:200])
