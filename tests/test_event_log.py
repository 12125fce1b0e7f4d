"""The event log's contract, run against every implementation of `EventLog`: the SQL store on
SQLite and PostgreSQL, and the in-memory log the hub tests read from."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from liveblog.broadcast.base import NullHub
from liveblog.domain.events import Event, EventType
from liveblog.domain.models import Role
from liveblog.service import Liveblog
from liveblog.storage.base import EventLog
from liveblog.storage.memlog import MemoryEventLog
from liveblog.storage.sql import SqlStore

MOMENT = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)


class StoreLog:
    """A SQL store's log, one committed transaction per call: the log as readers see it."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def append_event(
        self, blog_id: int, type: EventType, entry_id: int | None, data: str, at: datetime
    ) -> Event:
        with self.store.write() as tx:
            return tx.append_event(blog_id, type, entry_id, data, at)

    def events_after(self, blog_id: int, after: int, limit: int) -> list[Event]:
        with self.store.read() as tx:
            return tx.events_after(blog_id, after, limit)

    def redact_entry_events(self, blog_id: int, entry_id: int, redacted_data: str) -> int:
        with self.store.write() as tx:
            return tx.redact_entry_events(blog_id, entry_id, redacted_data)


@pytest.fixture(params=["sqlite", "postgresql", "memory"])
def log_and_blogs(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[EventLog, list[int]]]:
    """An empty log and the ids of two blogs it may hold events for."""
    if request.param == "memory":
        yield MemoryEventLog(), [1, 2]
        return
    url = (
        f"sqlite:///{tmp_path / 'log.sqlite3'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    store = SqlStore(url)
    store.migrate()
    svc = Liveblog(store, NullHub())
    editor = svc.create_user("eddie", Role.EDITOR, None)
    ids = [svc.create_blog(editor, slug=slug, title=slug).id for slug in ("first", "second")]
    yield StoreLog(store), ids
    store.close()


def test_seq_counts_from_one_without_gaps_per_blog(
    log_and_blogs: tuple[EventLog, list[int]],
) -> None:
    """Each blog's events are numbered 1, 2, 3 … on their own, whatever other blogs do."""
    log, (a, b) = log_and_blogs
    seqs = [
        log.append_event(blog, EventType.BLOG_UPDATED, None, "{}", MOMENT).seq
        for blog in (a, b, a, a, b)
    ]
    assert seqs == [1, 1, 2, 3, 2]
    assert [e.seq for e in log.events_after(a, 0, 10)] == [1, 2, 3]


def test_pages_after_a_position_are_exact_and_oldest_first(
    log_and_blogs: tuple[EventLog, list[int]],
) -> None:
    """`events_after(n, limit)` is exactly the next `limit` events after n, in order; past the
    end it is empty."""
    log, (blog, other) = log_and_blogs
    for number in range(1, 8):
        log.append_event(blog, EventType.ENTRY_PUBLISHED, number, f'{{"n": {number}}}', MOMENT)
    log.append_event(other, EventType.BLOG_UPDATED, None, "{}", MOMENT)
    assert [e.seq for e in log.events_after(blog, 2, 3)] == [3, 4, 5]
    assert [e.seq for e in log.events_after(blog, 5, 500)] == [6, 7]
    assert log.events_after(blog, 7, 10) == [] and log.events_after(blog, 99, 10) == []
    assert [e.blog_id for e in log.events_after(other, 0, 10)] == [other]


def test_events_keep_type_entry_data_and_time(log_and_blogs: tuple[EventLog, list[int]]) -> None:
    """What is appended is what is read back: type, entry, the JSON text byte for byte, and
    the time in UTC."""
    log, (blog, _) = log_and_blogs
    when = MOMENT + timedelta(microseconds=123_000)
    log.append_event(
        blog, EventType.ENTRY_PUBLISHED, 41, '{"entry": {"headline": "Ünïcode"}}', when
    )
    (event,) = log.events_after(blog, 0, 1)
    assert (event.type, event.entry_id) == (EventType.ENTRY_PUBLISHED, 41)
    assert event.data == '{"entry": {"headline": "Ünïcode"}}'
    assert event.created_at == when and event.created_at.utcoffset() == timedelta(0)


def test_redaction_rewrites_only_that_entrys_text_events(
    log_and_blogs: tuple[EventLog, list[int]],
) -> None:
    """Redacting an entry rewrites its published and updated events in place — same seq, same
    type — and leaves its retraction and every other entry's events as they were."""
    log, (blog, _) = log_and_blogs
    log.append_event(blog, EventType.ENTRY_PUBLISHED, 1, '{"secret": 1}', MOMENT)
    log.append_event(blog, EventType.ENTRY_PUBLISHED, 2, '{"keep": 2}', MOMENT)
    log.append_event(blog, EventType.ENTRY_UPDATED, 1, '{"secret": 2}', MOMENT)
    log.append_event(blog, EventType.ENTRY_RETRACTED, 1, '{"entry": {"id": 1}}', MOMENT)
    assert log.redact_entry_events(blog, 1, '{"redacted": true}') == 2
    events = log.events_after(blog, 0, 10)
    assert [(e.seq, e.type, e.data) for e in events] == [
        (1, EventType.ENTRY_PUBLISHED, '{"redacted": true}'),
        (2, EventType.ENTRY_PUBLISHED, '{"keep": 2}'),
        (3, EventType.ENTRY_UPDATED, '{"redacted": true}'),
        (4, EventType.ENTRY_RETRACTED, '{"entry": {"id": 1}}'),
    ]
