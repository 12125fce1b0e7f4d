"""Seeded request fuzzing of the JSON API: odd values, near-valid bodies, garbage bodies, content
types, validators and paths at every endpoint. Shared by the short runs in test_api_errors.py
(make test) and the long runs over many seeds and both backends in test_fuzz.py (make fuzz)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

import httpx

from conftest import Tokens, auth

SLUG = "election-night"  # the blog every fuzz run works in (the `blog` fixture's slug)
ENTRIES = f"/api/blogs/{SLUG}/entries"

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


@dataclass
class Tally:
    """What a fuzz run saw: every answer that broke the rules, and how many of each status
    (negative for a 400 or 422 from the parser, which has an "errors" list)."""

    failures: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def past_parsing(self) -> int:
        """Requests the parser let through to the service, where the interesting bugs live."""
        return sum(n for code, n in self.statuses.items() if code > 0)


def fuzz_writes(http: httpx.Client, tokens: Tokens, seed: int, count: int) -> Tally:
    """`count` malformed requests at every write endpoint of the blog; a failure is a 5xx, or a
    4xx without a JSON error message."""
    rng = random.Random(seed)
    editor = auth(tokens.editor)
    entry_id = http.post(ENTRIES, json={"body": "target"}, headers=editor).json()["id"]
    slugs = [SLUG, "no-such-blog", "%C3%BC", "%00", "a" * 300]
    entry_ids = ["999", "0", "-5", str(2**64), "x", "1.5", "%F0%9F%97%B3"]
    tokens_by_role = [tokens.admin, tokens.editor, tokens.editor, tokens.contributor]
    tally = Tally()
    for i in range(count):
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
        tally.statuses[code] = tally.statuses.get(code, 0) + 1
        if r.status_code >= 500 or (r.status_code >= 400 and not r.json().get("error")):
            tally.failures.append(
                f"seed {seed} #{i} {method} {url} {body[:120]!r} {headers} -> {r.text[:200]}"
            )
        # Keep a live target so later edits keep reaching the deeper code paths (unless the
        # fuzz itself ended the blog, which then takes no new entries).
        if method == "DELETE" and r.status_code == 204 and eid == str(entry_id):
            target = http.post(ENTRIES, json={"body": "target"}, headers=editor)
            assert target.status_code in (201, 409), target.text
            if target.status_code == 201:
                entry_id = target.json()["id"]
    return tally


def fuzz_reads(http: httpx.Client, tokens: Tokens, seed: int, count: int) -> list[str]:
    """`count` garbage query strings, paths and validators on every read endpoint; returns
    the answers that were a 5xx, or a 4xx without a JSON error message."""
    rng = random.Random(seed)
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
    failures = []
    for i in range(count):
        query = {rng.choice(params): rng.choice(values) for _ in range(rng.randrange(1, 3))}
        headers = {}
        if rng.random() < 0.3:
            headers["If-None-Match"] = rng.choice(['"x"', "*", "W/", 'W/"b1s1"', "\xe9", ""])
        if rng.random() < 0.2:
            headers["Authorization"] = rng.choice(["Bearer nope", f"Bearer {tokens.editor}"])
        url = rng.choice(urls)
        r = http.get(url, params=query, headers=_raw_headers(headers))
        if r.status_code >= 500 or (r.status_code >= 400 and not r.json()["error"]):
            failures.append(f"seed {seed} #{i} GET {url} {query} {headers} -> {r.text[:200]}")
    return failures
