"""What partner sites, scripts and caches see of the public routes: HEAD wherever GET works,
CORS on the public reads (never on staff routes), framing only by configured partners."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import LiveServer, Tokens, auth

SLUG = "election-night"
PUBLIC_GETS = [
    "/api/blogs",
    f"/api/blogs/{SLUG}",
    f"/api/blogs/{SLUG}/entries",
    f"/api/blogs/{SLUG}/events?after=0",
]


@pytest.fixture
def entry(http: httpx.Client, tokens: Tokens, blog: dict) -> dict:
    r = http.post(
        f"/api/blogs/{SLUG}/entries", json={"body": "Polls closed"}, headers=auth(tokens.editor)
    )
    assert r.status_code == 201
    data: dict = r.json()
    return data


@pytest.mark.parametrize(
    "path",
    ["/", f"/blogs/{SLUG}", *PUBLIC_GETS, "/healthz", "/static/reader.css"],
)
def test_head_answers_like_get_without_a_body(http: httpx.Client, entry: dict, path: str) -> None:
    """HEAD gets the GET's status and validators and no body, wherever GET works."""
    got = http.get(path)
    head = http.head(path)
    assert head.status_code == got.status_code == 200, (path, head.status_code)
    assert head.content == b""
    for name in ("etag", "cache-control", "content-type"):
        assert head.headers.get(name) == got.headers.get(name), name


def test_head_of_an_entry_and_a_permalink(http: httpx.Client, entry: dict) -> None:
    """An entry's JSON and its permalink page answer HEAD too."""
    for path in (
        f"/api/blogs/{SLUG}/entries/{entry['id']}",
        f"/blogs/{SLUG}/entries/{entry['id']}",
    ):
        r = http.head(path)
        assert r.status_code == 200 and r.content == b"", path


def test_head_of_the_stream_returns_its_head_and_ends(http: httpx.Client, blog: dict) -> None:
    """HEAD of the live stream answers at once with the stream's headers, and holds nothing
    open."""
    r = http.head(f"/api/blogs/{SLUG}/stream", timeout=5)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")


@pytest.mark.parametrize("path", PUBLIC_GETS)
def test_public_reads_allow_any_origin_without_credentials(
    http: httpx.Client, entry: dict, path: str
) -> None:
    """Public API reads say Access-Control-Allow-Origin: * and never allow credentials."""
    r = http.get(path, headers={"Origin": "https://partner.example"})
    assert r.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in r.headers


def test_the_stream_allows_any_origin(http: httpx.Client, blog: dict) -> None:
    """The live stream, on the lean path too, answers any origin."""
    with http.stream(
        "GET", f"/api/blogs/{SLUG}/stream", headers={"Origin": "https://p.example"}
    ) as r:
        assert r.headers["access-control-allow-origin"] == "*"


def test_a_preflight_for_a_public_read_is_answered(http: httpx.Client, blog: dict) -> None:
    """A browser's preflight (EventSource reconnecting with Last-Event-ID) gets 204 allowing
    GET and the header."""
    r = http.options(
        f"/api/blogs/{SLUG}/stream",
        headers={
            "Origin": "https://partner.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "last-event-id",
        },
    )
    assert r.status_code == 204
    assert "Last-Event-ID" in r.headers["access-control-allow-headers"]


@pytest.mark.parametrize(
    "path",
    ["/api/audit", f"/api/blogs/{SLUG}/worklist", f"/api/blogs/{SLUG}/media", "/desk"],
)
def test_staff_routes_carry_no_cors(
    http: httpx.Client, tokens: Tokens, blog: dict, path: str
) -> None:
    """Routes that need a sign-in never invite another origin to read them."""
    r = http.get(path, headers={**auth(tokens.editor), "Origin": "https://partner.example"})
    assert "access-control-allow-origin" not in r.headers, path


@pytest.fixture
def framed(db_url: str, tmp_path: Path, tokens: Tokens) -> Iterator[LiveServer]:
    server = LiveServer(
        db_url, tmp_path, frame_origins="https://partner.example, https://b.example"
    ).start()
    yield server
    server.stop()


def test_only_configured_partners_may_frame_the_pages(framed: LiveServer) -> None:
    """frame-ancestors names this site and the configured partner origins, nothing else."""
    csp = httpx.get(framed.url + "/").headers["content-security-policy"]
    assert "frame-ancestors 'self' https://partner.example https://b.example;" in csp
