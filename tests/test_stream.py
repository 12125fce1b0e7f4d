"""The live stream over real HTTP: delivery, exact replay, resync, retraction, blog end."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from liveblog.service import Liveblog

from conftest import LiveServer, Team, Tokens, auth
from sse import events_in, exchange, frames, take

SLUG = "election-night"


@pytest.fixture(params=["fast", "asgi"])
def live(
    request: pytest.FixtureRequest, db_url: str, tmp_path: Path, team: object
) -> Iterator[LiveServer]:
    """Every test here runs against both stream paths: the lean one `liveblog serve` uses for
    fresh connections (web/fastpath.py) and the portable ASGI one (web/stream.py)."""
    server = LiveServer(db_url, tmp_path, fast_stream=request.param == "fast").start()
    yield server
    server.stop()


@contextmanager
def stream(
    http: httpx.Client, path: str, headers: dict[str, str] | None = None
) -> Iterator[httpx.Response]:
    """GET a stream on a new connection (as EventSource usually does), with the client's base
    URL and no pooled keep-alive connection that would bypass the lean path."""
    with (
        httpx.Client(base_url=http.base_url, timeout=10) as fresh,
        fresh.stream("GET", path, headers=headers) as response,
    ):
        yield response


STREAM = f"/api/blogs/{SLUG}/stream"


def publish(http: httpx.Client, token: str, body: str, **extra: object) -> dict:
    r = http.post(f"/api/blogs/{SLUG}/entries", json={"body": body, **extra}, headers=auth(token))
    assert r.status_code == 201, r.text
    return r.json()


def test_published_entry_arrives_on_open_stream(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """A reader connected to the stream receives an entry published afterwards, with its html."""
    with stream(http, STREAM) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        entry = publish(http, tokens.editor, "Turnout is *high*")
        (frame,) = take(response, 1)
    assert frame.event == "entry-published"
    assert frame.id == 1
    assert frame.json["entry"]["id"] == entry["id"]
    assert frame.json["entry"]["html"] == "<p>Turnout is <em>high</em></p>\n"


def test_reconnect_with_last_event_id_replays_exactly_the_missed_events(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """A reader who drops after event 2 and returns with Last-Event-ID: 2 gets 3..6 once each."""
    with stream(http, STREAM) as response:
        publish(http, tokens.editor, "one")
        publish(http, tokens.editor, "two")
        seen = take(response, 2)
    assert [f.id for f in seen] == [1, 2]
    for body in ("three", "four", "five"):
        publish(http, tokens.editor, body)
    with stream(http, STREAM, headers={"Last-Event-ID": "2"}) as response:
        replayed = take(response, 3)
        publish(http, tokens.editor, "six")
        (live,) = take(response, 1)
    assert [f.id for f in replayed] == [3, 4, 5]
    assert [f.json["entry"]["body"] for f in replayed] == ["three", "four", "five"]
    assert live.id == 6


def test_query_parameter_sets_the_start_and_the_header_wins(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """?last_event_id=N starts after N, but a browser's Last-Event-ID header overrides it."""
    for body in ("a", "b", "c"):
        publish(http, tokens.editor, body)
    with stream(http, STREAM + "?last_event_id=1") as response:
        assert [f.id for f in take(response, 2)] == [2, 3]
    with stream(http, STREAM + "?last_event_id=0", headers={"Last-Event-ID": "2"}) as response:
        assert [f.id for f in take(response, 1)] == [3]


def test_replay_survives_a_server_restart(
    db_url: str, tmp_path: Path, tokens: Tokens, live: LiveServer, blog: dict
) -> None:
    """Events written before a restart are replayed by the new process from the log."""
    with httpx.Client(base_url=live.url) as http:
        for body in ("before restart 1", "before restart 2"):
            publish(http, tokens.editor, body)
    live.stop()
    second = LiveServer(db_url, tmp_path, fast_stream=live.app.state.settings.fast_stream).start()
    try:
        with (
            httpx.Client(base_url=second.url) as http,
            stream(http, STREAM, headers={"Last-Event-ID": "0"}) as response,
        ):
            got = take(response, 2)
        assert [f.json["entry"]["body"] for f in got] == ["before restart 1", "before restart 2"]
    finally:
        second.stop()


def test_unusable_position_gets_a_resync_event(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """A Last-Event-ID that is not a number, or is ahead of the log, tells the page to reload."""
    publish(http, tokens.editor, "only one")
    for bad in ("abc", "99", "-1", "1.5"):
        with stream(http, STREAM, headers={"Last-Event-ID": bad}) as response:
            got = [f for f in frames(response) if f.event]
        assert [f.event for f in got] == ["resync"], bad
        assert got[0].json["seq"] == 1


def test_retraction_and_blog_end_arrive_and_the_stream_closes(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Readers see a retraction, then the blog's end, after which the server closes the stream."""
    entry = publish(http, tokens.editor, "to be withdrawn")
    with stream(http, STREAM) as response:
        r = http.request(
            "DELETE",
            f"/api/blogs/{SLUG}/entries/{entry['id']}",
            json={"public_note": "Removed: unverified."},
            headers=auth(tokens.editor),
        )
        assert r.status_code == 204
        r = http.patch(f"/api/blogs/{SLUG}", json={"status": "ended"}, headers=auth(tokens.editor))
        assert r.status_code == 200
        got = [f for f in frames(response) if f.event]  # ends only because the server closes
    assert [f.event for f in got] == ["entry-retracted", "blog-ended"]
    assert got[0].json == {"entry": {"id": entry["id"]}, "public_note": "Removed: unverified."}
    assert got[1].json["blog"]["status"] == "ended"
    assert got[1].json["blog"]["seq"] == got[1].id


def test_ended_blog_tells_an_up_to_date_reader_to_stop(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """After the end a caught-up reconnect gets 204 (EventSource stops); a lagging one the rest."""
    publish(http, tokens.editor, "last words")
    http.patch(f"/api/blogs/{SLUG}", json={"status": "ended"}, headers=auth(tokens.editor))
    with stream(http, STREAM, headers={"Last-Event-ID": "2"}) as caught_up:
        assert caught_up.status_code == 204
    with stream(http, STREAM, headers={"Last-Event-ID": "0"}) as response:
        got = [f for f in frames(response) if f.event]
    assert [f.event for f in got] == ["entry-published", "blog-ended"]


def test_pin_moves_in_one_step_as_two_updates(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Pinning a second entry unpins the first; readers get both changes as consecutive updates."""
    first = publish(http, tokens.editor, "first", pinned=True)
    second = publish(http, tokens.editor, "second")
    with stream(http, STREAM) as response:
        r = http.patch(
            f"/api/blogs/{SLUG}/entries/{second['id']}",
            json={"pinned": True},
            headers={**auth(tokens.editor), "If-Match": '"1"'},
        )
        assert r.status_code == 200, r.text
        got = take(response, 2)
    assert [(f.event, f.json["entry"]["id"], f.json["entry"]["pinned"]) for f in got] == [
        ("entry-updated", first["id"], False),
        ("entry-updated", second["id"], True),
    ]
    assert got[1].json["entry"]["version"] == 1  # a pin is not a content edit


def test_drafts_never_enter_the_stream(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """A draft creates no event; publishing it later is the first thing readers see of it."""
    r = http.post(
        f"/api/blogs/{SLUG}/entries",
        json={"body": "secret draft", "status": "draft"},
        headers=auth(tokens.contributor),
    )
    assert r.status_code == 201, r.text
    draft = r.json()
    assert http.get(f"/api/blogs/{SLUG}").json()["seq"] == 0
    with stream(http, STREAM) as response:
        r = http.patch(
            f"/api/blogs/{SLUG}/entries/{draft['id']}",
            json={"status": "published", "version": 1},
            headers=auth(tokens.editor),
        )
        assert r.status_code == 200, r.text
        (frame,) = take(response, 1)
    assert (frame.id, frame.event, frame.json["entry"]["body"]) == (
        1,
        "entry-published",
        "secret draft",
    )


@pytest.mark.parametrize("mode", ["fast", "asgi"])
def test_keepalive_comments_flow_on_an_idle_stream(
    mode: str, db_url: str, tmp_path: Path, team: object, tokens: Tokens
) -> None:
    """An idle stream carries comment lines so proxies and phones keep the connection open."""
    server = LiveServer(db_url, tmp_path, keepalive_seconds=0.2, fast_stream=mode == "fast").start()
    try:
        with httpx.Client(base_url=server.url) as http:
            http.post(
                "/api/blogs", json={"slug": SLUG, "title": "Quiet"}, headers=auth(tokens.editor)
            )
            with stream(http, STREAM) as response:
                got = []
                for frame in frames(response):  # a read timeout fails the test
                    got.append(frame)
                    if sum(f.comment for f in got) == 2:
                        break
        # Two comments, and nothing else but the head's retry hint: the stream stayed open
        # and idle, and the comments kept coming.
        assert [f.comment for f in got if f.data or f.comment] == [True, True]
    finally:
        server.stop()


def test_unknown_blog_stream_is_404(http: httpx.Client, blog: dict) -> None:
    """Subscribing to a blog that does not exist is a clear 404, not an empty stream."""
    r = http.get("/api/blogs/no-such-blog/stream")
    assert r.status_code == 404
    assert "no-such-blog" in r.json()["error"]


def request(path: str, *headers: str) -> bytes:
    lines = "".join(f"{h}\r\n" for h in headers)
    return f"GET {path} HTTP/1.1\r\nHost: x\r\n{lines}\r\n".encode()


# (what the request carries, the header lines, the query, the answer the position rules give)
POSITIONS = [
    ("no position", [], "", "204"),
    ("empty header: absent", ["Last-Event-ID: "], "", "204"),
    ("blank header: absent", ["Last-Event-ID:    "], "", "204"),
    ("empty header, the query counts", ["Last-Event-ID: "], "?last_event_id=1", "2 3"),
    ("header wins over the query", ["Last-Event-ID: 2"], "?last_event_id=0", "3"),
    ("repeated header, same value", ["Last-Event-ID: 1", "Last-Event-ID: 1"], "", "2 3"),
    ("repeated header, two values", ["Last-Event-ID: 1", "Last-Event-ID: 2"], "", "resync"),
    ("repeated header, one blank", ["Last-Event-ID: ", "Last-Event-ID: 1"], "", "2 3"),
    ("blank query: absent", [], "?last_event_id=", "204"),
    ("repeated query, same value", [], "?last_event_id=1&last_event_id=1", "2 3"),
    ("repeated query, two values", [], "?last_event_id=0&last_event_id=2", "resync"),
    ("not a number", ["Last-Event-ID: two"], "", "resync"),
    ("ahead of the log", ["Last-Event-ID: 4"], "", "resync"),
]


def answer(url: str, data: bytes) -> list[str]:
    """Each response on one connection as the position rules name it: 204, resync, or the ids
    of the events replayed (the stream of an ended blog closes after its end)."""
    said = []
    for response in exchange(url, data):
        if response.status != 200 or "event-stream" not in (response.header("content-type") or ""):
            said.append(str(response.status))
            continue
        assert response.header("connection") == "close"
        got = events_in(response.body)
        if got == [(None, "resync")]:
            said.append("resync")
        else:
            said.append(" ".join(str(i) for i, _ in got))
    return said


def test_position_edge_cases_are_answered_alike_on_both_writers(
    live: LiveServer, http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Empty, blank and repeated Last-Event-ID headers and query parameters get the same answer
    on both writers: blank counts as absent, agreeing repeats once, disagreeing ones resync."""
    publish(http, tokens.editor, "one")
    publish(http, tokens.editor, "two")
    r = http.patch(f"/api/blogs/{SLUG}", json={"status": "ended"}, headers=auth(tokens.editor))
    assert r.status_code == 200  # seq 3; a stream that reaches it closes
    for case, headers, query, expected in POSITIONS:
        assert answer(live.url, request(STREAM + query, *headers)) == [expected], case


def test_pipelined_requests_are_answered_alike_on_both_writers(
    live: LiveServer, http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """A stream pipelined behind another request is served after it; a request pipelined
    behind a stream is never answered, since a stream is the last response on its connection."""
    publish(http, tokens.editor, "one")
    publish(http, tokens.editor, "two")
    http.patch(f"/api/blogs/{SLUG}", json={"status": "ended"}, headers=auth(tokens.editor))
    blog_then_stream = request(f"/api/blogs/{SLUG}") + request(STREAM, "Last-Event-ID: 1")
    assert answer(live.url, blog_then_stream) == ["200", "2 3"]
    for position, expected in (("1", "2 3"), ("3", "204"), ("x", "resync")):
        stream_then_blog = request(STREAM, f"Last-Event-ID: {position}") + request("/healthz")
        assert answer(live.url, stream_then_blog) == [expected], position


def test_reader_ahead_of_this_node_gets_nothing_twice(
    http: httpx.Client, svc: Liveblog, team: Team, tokens: Tokens, blog: dict
) -> None:
    """A reader who already has an event this node has not heard of (written by another
    process) is not told to resync and is not sent that event again."""
    with stream(http, STREAM) as first:  # the node's hub now follows the blog
        publish(http, tokens.editor, "one")
        assert [f.id for f in take(first, 1)] == [1]
    svc.create_entry(team.editor, SLUG, body="written elsewhere")  # the node hears nothing
    with stream(http, STREAM, headers={"Last-Event-ID": "2"}) as response:
        publish(http, tokens.editor, "three")
        got = take(response, 1)
    assert [(f.id, f.json["entry"]["body"]) for f in got] == [(3, "three")]
