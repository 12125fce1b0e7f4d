"""Errors from the JSON API: always a clear 4xx JSON body, never a 500, never a half-done write."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import httpx

from conftest import LiveServer, Tokens, auth

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


# --- fuzz ---------------------------------------------------------------------------------

_TEXTS = [
    "", " ", "x", "a" * 3000, "Ünïcødé ☃ 🗳️ 中文 العربية", "\u202e\u200b\ufeff", "\x00", "\x07",
    "\ud800", "\udfff", "../../etc/passwd", "<script>alert(1)</script>", "'; DROP TABLE entries;--",
    "%s%n{0}", "null", "true", "-1", "1e400", "published", "draft", "ended", "live", "America",
    "> " * 60, "[" * 5000, "*_" * 2000, "\n" * 500,
]  # fmt: skip
_NUMBERS: list[Any] = [
    0, 1, -1, 2**31, 2**63, -(2**63) - 1, 10**30, 1.5, -0.0, 1e308, float("inf"), float("nan"),
]  # fmt: skip
_FIELDS = [
    "slug", "title", "description", "key_points", "language", "timezone", "status", "headline",
    "body", "pinned", "key_event", "correction", "version", "public_note", "id", "seq", "",
    "__proto__", "constructor", "author", "Body", "🗳",
]  # fmt: skip
_RAW_BODIES = [
    b"", b"{", b"}", b"null", b"[]", b"[{}]", b'"body"', b"0", b"true", b"\xff\xfe\x00",
    b'{"body": NaN}', b'{"version": Infinity}', b'{"body": "x"}{"body": "y"}',
    b'{"body": "x", "body": 5}', b"[" * 20_000 + b"]" * 20_000,
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b'{"version": ' + b"9" * 5000 + b"}", b"\xef\xbb\xbf{}", b'{"body": "\\ud800\\udc00"}',
    b'{"body": "\\x"}', b"body=x&status=draft", b"--boundary\r\n\r\n",
]  # fmt: skip
_CONTENT_TYPES = [
    "application/json", "text/plain", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=boundary", "application/merge-patch+json", "",
    "application/json; charset=latin-1",
]  # fmt: skip
_IF_MATCH = [
    '"1"', "1", "*", '"x"', "W/", '""', '"1", "2"', '"' + "9" * 5000 + '"', '"-1"', '"٣"',
    "W/\"1\"", '"1.0"', "\xb2", "null", "W/ \"1\"",
]  # fmt: skip


def _raw_headers(headers: dict[str, str]) -> dict[bytes, bytes]:
    """Header values as bytes, so non-ASCII values go on the wire as a client might send them."""
    out = {}
    for name, value in headers.items():
        try:
            out[name.encode("ascii")] = value.encode("latin-1")
        except UnicodeEncodeError:
            out[name.encode("ascii")] = value.encode("utf-8")
    return out


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(7 if depth < 2 else 4)
    if kind == 0:
        return rng.choice(_TEXTS)
    if kind == 1:
        return rng.choice(_NUMBERS)
    if kind == 2:
        return rng.choice([None, True, False])
    if kind == 3:
        return rng.choice(_TEXTS) + rng.choice(_TEXTS)
    if kind == 4:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 5:
        return [rng.choice(_TEXTS) for _ in range(rng.randrange(15))]
    return {rng.choice(_FIELDS): _value(rng, depth + 1) for _ in range(rng.randrange(3))}


# A valid body per write endpoint and the type of each field it accepts, so most fuzzed
# requests get past parsing and into the service (where the interesting failures live).
_TEMPLATES: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "create blog": ({"slug": "fz", "title": "T"}, {
        "slug": "str", "title": "str", "description": "str", "key_points": "list",
        "language": "str", "timezone": "str",
    }),
    "edit blog": ({"title": "T"}, {
        "title": "str", "description": "str", "key_points": "list", "status": "str",
    }),
    "write entry": ({"body": "x"}, {
        "headline": "str", "body": "str", "pinned": "bool", "key_event": "bool", "status": "str",
    }),
    "edit entry": ({"body": "x", "version": 1}, {
        "headline": "str", "body": "str", "pinned": "bool", "key_event": "bool", "status": "str",
        "correction": "str", "version": "int",
    }),
    "retract": ({}, {"public_note": "str"}),
}  # fmt: skip


def _typed(rng: random.Random, kind: str) -> Any:
    """A value of the right JSON type but an odd content."""
    if kind == "str":
        return rng.choice(_TEXTS) * rng.choice([1, 1, 1, 2, 40])
    if kind == "bool":
        return rng.choice([True, False, None])
    if kind == "int":
        return rng.choice([1, 2, 3, *_NUMBERS])
    return [rng.choice(_TEXTS) for _ in range(rng.randrange(13))]


def _payload(rng: random.Random, endpoint: str) -> tuple[bytes, str]:
    """A request body and its content type: a near-valid body with odd values, or garbage."""
    roll = rng.random()
    if roll < 0.1:
        return rng.choice(_RAW_BODIES), rng.choice(_CONTENT_TYPES)
    if roll < 0.2:
        return json.dumps(_value(rng)).encode(), "application/json"
    template, schema = _TEMPLATES[endpoint]
    fields = dict(template)
    for _ in range(rng.randrange(1, 4)):
        name = rng.choice(list(schema))
        fields[name] = _typed(rng, schema[name]) if rng.random() < 0.8 else _value(rng)
    if rng.random() < 0.1:
        fields[rng.choice(_FIELDS)] = _value(rng)
    if rng.random() < 0.1:
        fields.pop(rng.choice(list(fields)), None) if fields else None
    content_type = "application/json" if rng.random() < 0.9 else rng.choice(_CONTENT_TYPES)
    return json.dumps(fields).encode(), content_type


def test_fuzzed_requests_never_cause_a_server_error(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Hundreds of malformed requests at every write endpoint all get a < 500 JSON answer."""
    rng = random.Random(20251105)
    editor = auth(tokens.editor)
    entry_id = http.post(ENTRIES, json={"body": "target"}, headers=editor).json()["id"]
    slugs = [SLUG, "no-such-blog", "%C3%BC", "%00", "a" * 300]
    entry_ids = ["999", "0", "-5", str(2**64), "x", "1.5", "%F0%9F%97%B3"]
    tokens_by_role = [tokens.admin, tokens.editor, tokens.editor, tokens.contributor]
    failures: list[str] = []
    statuses: dict[int, int] = {}
    for i in range(800):
        slug = SLUG if rng.random() < 0.9 else rng.choice(slugs)
        eid = str(entry_id) if rng.random() < 0.85 else rng.choice(entry_ids)
        endpoint, method, url = rng.choice(
            [
                ("create blog", "POST", "/api/blogs"),
                ("edit blog", "PATCH", f"/api/blogs/{slug}"),
                ("write entry", "POST", f"/api/blogs/{slug}/entries"),
                ("write entry", "POST", f"/api/blogs/{slug}/entries"),
                ("edit entry", "PATCH", f"/api/blogs/{slug}/entries/{eid}"),
                ("edit entry", "PATCH", f"/api/blogs/{slug}/entries/{eid}"),
                ("edit entry", "PATCH", f"/api/blogs/{slug}/entries/{eid}"),
                ("retract", "DELETE", f"/api/blogs/{slug}/entries/{eid}"),
            ]
        )
        body, content_type = _payload(rng, endpoint)
        headers = {"Authorization": f"Bearer {rng.choice(tokens_by_role)}"}
        if rng.random() < 0.03:
            headers["Authorization"] = rng.choice(["Bearer", "Bearer x", "Basic Og=="])
        if content_type:
            headers["Content-Type"] = content_type
        if method == "PATCH" and rng.random() < 0.3:
            headers["If-Match"] = rng.choice(_IF_MATCH)
        r = http.request(method, url, content=body, headers=_raw_headers(headers))
        # A 422 without "errors" came from the service's own rules, i.e. after parsing.
        parsed = r.status_code not in (400, 422) or "errors" not in r.json()
        code = r.status_code if parsed else -r.status_code
        statuses[code] = statuses.get(code, 0) + 1
        if r.status_code >= 500 or (r.status_code >= 400 and not r.json().get("error")):
            failures.append(f"#{i} {method} {url} {body[:120]!r} {headers} -> {r.text[:200]}")
        # Keep a live target so later edits keep reaching the deeper code paths.
        if method == "DELETE" and r.status_code == 204 and eid == str(entry_id):
            entry_id = http.post(ENTRIES, json={"body": "target"}, headers=editor).json()["id"]
    assert not failures, "\n".join(failures[:20])
    # The fuzz is only worth something if plenty of requests got past parsing.
    past_parsing = sum(n for code, n in statuses.items() if code > 0)
    assert past_parsing > 250, statuses


def test_fuzzed_reads_never_cause_a_server_error(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Garbage query strings, paths and validators on every read endpoint get a < 500 answer."""
    rng = random.Random(4711)
    http.post(ENTRIES, json={"body": "x"}, headers=auth(tokens.editor))
    params = ["limit", "before", "after", "", "limit[]", "🗳"]
    values = [
        "", "0", "-1", "1", "100", "101", "1e3", "abc", str(2**64), "%00", "ü", "MTox", "MTox\n",
        "=" * 10, "Zm9vOmJhcg", "MDox", "LTE6LTE", "__proto__", "9" * 5000, "📰" * 40,
    ]  # fmt: skip
    urls = [
        "/api/blogs", f"/api/blogs/{SLUG}", ENTRIES, f"{ENTRIES}/1", f"{ENTRIES}/1/revisions",
        f"/api/blogs/{SLUG}/events", "/api/openapi.json",
    ]  # fmt: skip
    for _ in range(300):
        query = {rng.choice(params): rng.choice(values) for _ in range(rng.randrange(1, 3))}
        headers = {}
        if rng.random() < 0.3:
            headers["If-None-Match"] = rng.choice(['"x"', "*", "W/", 'W/"b1s1"', "\xe9", ""])
        if rng.random() < 0.2:
            headers["Authorization"] = rng.choice(["Bearer nope", f"Bearer {tokens.editor}"])
        r = http.get(rng.choice(urls), params=query, headers=_raw_headers(headers))
        assert r.status_code < 500, (query, headers, r.text[:200])
        if r.status_code >= 400:
            assert r.json()["error"]


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
