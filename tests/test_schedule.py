"""Scheduled entries and once-per-period jobs: published at their time, exactly once, however
many nodes are looking; bad schedules refused with the field named."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from liveblog import credentials
from liveblog.broadcast.base import NullHub
from liveblog.domain.events import EventType
from liveblog.domain.models import EntryStatus, Role
from liveblog.service import Liveblog
from liveblog.storage.sql import SqlStore
from liveblog.usecases.scheduler import publish_due, run_retention

from conftest import LiveServer, Tokens, auth
from sse import take

SLUG = "election-night"
ENTRIES = f"/api/blogs/{SLUG}/entries"


def soon(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


@pytest.fixture
def fast_live(db_url: str, tmp_path: Path, team: object) -> Iterator[LiveServer]:
    """A server whose scheduler looks for due entries every 0.1 s."""
    server = LiveServer(db_url, tmp_path, schedule_poll_seconds=0.1).start()
    yield server
    server.stop()


@pytest.fixture
def fast_http(fast_live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fast_live.url, timeout=10) as client:
        yield client


@pytest.fixture
def fast_blog(fast_http: httpx.Client, tokens: Tokens) -> None:
    r = fast_http.post("/api/blogs", json={"slug": SLUG, "title": "E"}, headers=auth(tokens.editor))
    assert r.status_code == 201, r.text


def test_scheduled_entry_goes_public_at_its_time_and_reaches_open_streams(
    fast_http: httpx.Client, tokens: Tokens, fast_blog: None
) -> None:
    """A scheduled entry is invisible until its time, then published once, live to readers."""
    r = fast_http.post(
        ENTRIES,
        json={"body": "Polls close now", "status": "scheduled", "publish_at": soon(1.5)},
        headers=auth(tokens.editor),
    )
    assert r.status_code == 201, r.text
    entry = r.json()
    assert entry["status"] == "scheduled" and entry["publish_at"].endswith("Z")
    assert fast_http.get(ENTRIES).json()["entries"] == []
    assert fast_http.get(f"{ENTRIES}/{entry['id']}").status_code == 404  # not public yet
    with fast_http.stream("GET", f"/api/blogs/{SLUG}/stream", timeout=10) as stream:
        (frame,) = take(stream, 1)
    assert frame.event == "entry-published"
    assert frame.json["entry"]["id"] == entry["id"]
    assert "publish_at" not in frame.json["entry"]
    published_at = datetime.fromisoformat(frame.json["entry"]["published_at"])
    assert published_at >= datetime.fromisoformat(entry["publish_at"])
    time.sleep(0.5)  # a few more scheduler turns: nothing is published twice
    events = fast_http.get(f"/api/blogs/{SLUG}/events").json()["events"]
    assert [(e["type"], e["data"]["entry"]["id"]) for e in events] == [
        ("entry-published", entry["id"])
    ]


def test_schedule_can_be_moved_cancelled_or_published_at_once(
    fast_http: httpx.Client, tokens: Tokens, fast_blog: None
) -> None:
    """Editors reschedule, unschedule (back to draft) or publish a scheduled entry now."""
    headers = auth(tokens.editor)

    def scheduled(body: str) -> dict[str, Any]:
        payload = {"body": body, "status": "scheduled", "publish_at": soon(3600)}
        r = fast_http.post(ENTRIES, json=payload, headers=headers)
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()
        return data

    moved, cancelled, now = scheduled("a"), scheduled("b"), scheduled("c")
    later = soon(7200)
    r = fast_http.patch(
        f"{ENTRIES}/{moved['id']}", json={"publish_at": later, "version": 1}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["publish_at"] != moved["publish_at"]
    r = fast_http.patch(
        f"{ENTRIES}/{cancelled['id']}", json={"status": "draft", "version": 1}, headers=headers
    )
    assert r.status_code == 200 and r.json()["status"] == "draft"
    assert "publish_at" not in r.json()
    r = fast_http.patch(
        f"{ENTRIES}/{now['id']}", json={"status": "published", "version": 1}, headers=headers
    )
    assert r.status_code == 200 and r.json()["status"] == "published"
    public = fast_http.get(ENTRIES).json()["entries"]
    assert [e["id"] for e in public] == [now["id"]]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"status": "scheduled"}, "publish_at"),
        ({"status": "scheduled", "publish_at": "2030-01-01T12:00:00"}, "publish_at"),
        ({"status": "scheduled", "publish_at": "2001-01-01T12:00:00Z"}, "publish_at"),
        ({"status": "scheduled", "publish_at": "2099-01-01T12:00:00Z"}, "publish_at"),
        ({"status": "scheduled", "publish_at": "tomorrow at noon"}, "publish_at"),
        ({"status": "scheduled", "publish_at": "9999-12-31T23:30:00-05:00"}, "publish_at"),
        ({"status": "published", "publish_at": "2030-01-01T12:00:00Z"}, "publish_at"),
    ],
)
def test_bad_schedules_are_refused_with_the_field_named(
    http: httpx.Client, tokens: Tokens, blog: dict[str, Any], payload: dict[str, Any], field: str
) -> None:
    """No zone, past, over a year ahead, unparseable, or a time without 'scheduled': 422."""
    r = http.post(ENTRIES, json={"body": "x", **payload}, headers=auth(tokens.editor))
    assert r.status_code == 422, r.text
    assert field in r.text
    assert http.get(f"/api/blogs/{SLUG}/events").json()["events"] == []


def test_contributors_cannot_schedule(
    http: httpx.Client, tokens: Tokens, blog: dict[str, Any]
) -> None:
    """Scheduling is publishing later: a contributor gets 403 and nothing is stored."""
    payload = {"body": "x", "status": "scheduled", "publish_at": soon(600)}
    r = http.post(ENTRIES, json=payload, headers=auth(tokens.contributor))
    assert r.status_code == 403


def on_separate_stores(url: str, count: int, work: Callable[[SqlStore], None]) -> None:
    """Run `work` at once on `count` threads, each with its own store (its own connections), as
    separate nodes would."""
    stores = [SqlStore(url) for _ in range(count)]
    threads = [threading.Thread(target=work, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()


def test_a_scheduled_entry_is_changed_only_by_those_who_may_publish(
    http: httpx.Client, tokens: Tokens, blog: dict[str, Any]
) -> None:
    """A contributor's submission, once an editor schedules it, is no longer the contributor's
    to change: unreviewed text must not go out at its time."""
    r = http.post(
        ENTRIES, json={"body": "draft", "status": "submitted"}, headers=auth(tokens.contributor)
    )
    assert r.status_code == 201, r.text
    entry = r.json()
    path = f"{ENTRIES}/{entry['id']}"
    schedule = {"status": "scheduled", "publish_at": soon(600), "version": 1}
    assert http.patch(path, json=schedule, headers=auth(tokens.editor)).status_code == 200
    change = {"body": "UNREVIEWED", "version": 1}
    r = http.patch(path, json=change, headers=auth(tokens.contributor))
    assert r.status_code == 403
    assert http.get(path, headers=auth(tokens.editor)).json()["body"] == "draft"


def test_scheduling_in_an_ended_blog_is_refused_by_edit_as_by_create(
    http: httpx.Client, tokens: Tokens, blog: dict[str, Any]
) -> None:
    """An ended blog takes no schedules, whether the entry is created scheduled or edited."""
    headers = auth(tokens.editor)
    draft = http.post(ENTRIES, json={"body": "d", "status": "draft"}, headers=headers).json()
    assert http.patch(f"/api/blogs/{SLUG}", json={"status": "ended"}, headers=headers).is_success
    schedule = {"status": "scheduled", "publish_at": soon(600)}
    r = http.patch(f"{ENTRIES}/{draft['id']}", json={**schedule, "version": 1}, headers=headers)
    assert r.status_code == 409, r.text
    assert http.post(ENTRIES, json={"body": "x", **schedule}, headers=headers).status_code == 409


def _scheduled_entries(store: SqlStore, count: int, due: datetime) -> tuple[Liveblog, list[int]]:
    """An editor's blog with `count` entries scheduled for `due` (created an hour before)."""
    before = Liveblog(store, NullHub(), clock=lambda: due - timedelta(hours=1))
    editor = before.create_user("sched", Role.EDITOR, "editor-password")
    before.create_blog(editor, slug=SLUG, title="E")
    ids = [
        before.create_entry(editor, SLUG, body=f"entry {n}", status="scheduled", publish_at=due).id
        for n in range(count)
    ]
    return before, ids


def test_due_entries_are_published_exactly_once_by_racing_nodes(any_store: SqlStore) -> None:
    """Four 'nodes' (each its own store and connections) race to publish 40 due entries: each is
    published exactly once and the log stays gapless."""
    due = datetime.now(UTC).replace(microsecond=0)
    _, ids = _scheduled_entries(any_store, 40, due)
    published: list[int] = []
    lock = threading.Lock()

    def node(store: SqlStore) -> None:
        svc = Liveblog(store, NullHub(), clock=lambda: due + timedelta(seconds=1))
        for _ in range(20):
            done = publish_due(svc, limit=3)
            with lock:
                published.append(done)

    on_separate_stores(any_store.url, 4, node)
    assert sum(published) == 40
    with any_store.read() as tx:
        blog = tx.blog_by_slug(SLUG)
        assert blog is not None
        log = tx.events_after(blog.id, 0, 1000)
    assert [e.seq for e in log] == list(range(1, 41))
    assert all(e.type is EventType.ENTRY_PUBLISHED for e in log)
    assert sorted(e.entry_id for e in log if e.entry_id is not None) == sorted(ids)


def test_entries_due_in_an_ended_blog_go_back_to_draft(store: SqlStore) -> None:
    """Nobody reads an ended blog: its due entry returns to the desk as a draft, not public."""
    due = datetime.now(UTC)
    before, ids = _scheduled_entries(store, 1, due)
    editor = before.user_for_token(before.create_token("sched"))
    before.update_blog(editor, SLUG, {"status": "ended"})
    after = Liveblog(store, NullHub(), clock=lambda: due + timedelta(seconds=1))
    assert publish_due(after) == 0
    entry = after.entry(SLUG, ids[0], editor)
    assert entry.status.value == "draft"
    _, events = after.events(SLUG, 0)
    assert [e.type for e in events] == [EventType.BLOG_ENDED]


def test_retention_runs_once_per_period_across_nodes(any_store: SqlStore) -> None:
    """Three nodes racing for the hourly retention job: one runs it; nobody again that hour;
    it purges tokens revoked over 30 days ago and keeps newer and active ones."""
    start = datetime.now(UTC)
    old_days = Liveblog(any_store, NullHub(), clock=lambda: start - timedelta(days=40))
    old_days.create_user("tok", Role.EDITOR, "editor-password")
    old_revoked = old_days.create_token("tok")
    old_days.revoke_token(old_revoked)
    svc = Liveblog(any_store, NullHub(), clock=lambda: start)
    new_revoked, active = svc.create_token("tok"), svc.create_token("tok")
    svc.revoke_token(new_revoked)

    winners: list[bool] = []
    barrier = threading.Barrier(3)

    def race(store: SqlStore) -> None:
        barrier.wait()
        winners.append(run_retention(Liveblog(store, NullHub(), clock=lambda: start), "n"))

    on_separate_stores(any_store.url, 3, race)
    assert sorted(winners) == [False, False, True]
    assert run_retention(svc, "again") is False
    later = Liveblog(any_store, NullHub(), clock=lambda: start + timedelta(hours=1, seconds=1))
    assert run_retention(later, "next-hour") is True

    with any_store.read() as tx:
        hashes = {h for (h,) in tx.conn.exec_driver_sql("SELECT token_hash FROM api_tokens").all()}
    assert credentials.hash_token(old_revoked) not in hashes
    assert credentials.hash_token(new_revoked) in hashes
    assert svc.user_for_token(active).name == "tok"


def test_an_editor_mid_write_and_the_scheduler_do_not_deadlock(pg_url: str) -> None:
    """An editor's transaction holds the blog and then changes the due entry while the
    scheduler runs: the scheduler waits its turn (no deadlock, no error) and, finding the entry
    unscheduled, publishes nothing."""
    store = SqlStore(pg_url)
    due = datetime.now(UTC)
    _, (entry_id,) = _scheduled_entries(store, 1, due)
    after = Liveblog(store, NullHub(), clock=lambda: due + timedelta(seconds=1))
    results: list[object] = []
    with store.write() as tx:
        blog = tx.blog_by_slug(SLUG, for_update=True)  # as every editor's write begins
        assert blog is not None
        scheduler = threading.Thread(target=lambda: results.append(_try(publish_due, after)))
        scheduler.start()
        time.sleep(0.3)  # the scheduler is now waiting for the blog
        entry = tx.entry(blog.id, entry_id)
        assert entry is not None
        entry.status = EntryStatus.DRAFT  # the editor takes it back
        entry.scheduled_at = None
        tx.update_entry(entry)
    scheduler.join(10)
    store.close()
    assert results == [0]


def _try(function: Callable[[Liveblog], int], svc: Liveblog) -> object:
    try:
        return function(svc)
    except Exception as exc:  # the failure itself is what the test reports
        return exc
