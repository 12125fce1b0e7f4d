"""The storage contract, run on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from liveblog.broadcast.base import NullHub
from liveblog.domain.errors import AlreadyExists
from liveblog.domain.events import EventType
from liveblog.domain.models import Role
from liveblog.service import Liveblog
from liveblog.storage.sql import SqlStore


def make_service(store: SqlStore) -> tuple[Liveblog, object]:
    svc = Liveblog(store, NullHub())
    editor = svc.create_user("ed", Role.EDITOR, "password-1")
    svc.create_blog(editor, slug="storm", title="Storm")
    return svc, editor


def test_migrations_are_idempotent(any_store: SqlStore) -> None:
    """Running migrate on an up-to-date database changes nothing and does not fail."""
    any_store.migrate()
    assert any_store.is_migrated()


def test_seq_is_gapless_under_concurrent_writers(any_store: SqlStore) -> None:
    """Eight threads publishing at once still produce seq 1..N, each exactly once, in order."""
    svc, editor = make_service(any_store)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(10):
                svc.create_entry(editor, "storm", body=f"writer {n} entry {i}")  # type: ignore[arg-type]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    _, events = svc.events("storm", after=0)
    assert [e.seq for e in events] == list(range(1, 81))
    assert len({e.entry_id for e in events}) == 80
    assert svc.blog("storm").seq == 80


def test_failed_transaction_leaves_no_trace(any_store: SqlStore) -> None:
    """An error inside a write rolls back the entry, its event and the seq bump together."""
    svc, _ = make_service(any_store)
    with pytest.raises(RuntimeError), any_store.write() as tx:
        blog = tx.blog_by_slug("storm")
        assert blog is not None
        tx.append_event(blog.id, EventType.BLOG_UPDATED, None, "{}", datetime.now(UTC))
        raise RuntimeError("boom")
    assert svc.blog("storm").seq == 0
    assert svc.events("storm", after=0)[1] == []


def test_keyset_pages_are_exact_with_equal_timestamps(any_store: SqlStore) -> None:
    """Entries sharing a timestamp are ordered by id and paged without loss or repeats."""
    moment = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    svc = Liveblog(any_store, NullHub(), clock=lambda: moment)
    editor = svc.create_user("ed", Role.EDITOR, "password-1")
    svc.create_blog(editor, slug="storm", title="Storm")
    ids = [svc.create_entry(editor, "storm", body=f"e{i}").id for i in range(7)]
    seen: list[int] = []
    cursor = None
    while True:
        _, page = svc.entries("storm", limit=3, before=cursor)
        seen += [e.id for e in page.entries]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == sorted(ids, reverse=True)


def test_times_round_trip_as_utc(any_store: SqlStore) -> None:
    """A time written in another zone comes back as the same instant, in UTC."""
    tz = datetime(2026, 7, 1, 23, 30, tzinfo=UTC).astimezone().tzinfo
    moment = datetime(2026, 7, 1, 23, 30, 15, 123000, tzinfo=UTC).astimezone(tz) + timedelta(0)
    svc = Liveblog(any_store, NullHub(), clock=lambda: moment)
    editor = svc.create_user("ed", Role.EDITOR, "password-1")
    svc.create_blog(editor, slug="storm", title="Storm")
    entry = svc.create_entry(editor, "storm", body="x")
    stored = svc.entry("storm", entry.id)
    assert stored.published_at == moment
    assert stored.published_at is not None and stored.published_at.utcoffset() == timedelta(0)


def test_unique_names_are_enforced(any_store: SqlStore) -> None:
    """A second blog with the same slug, or user with the same name, is refused cleanly."""
    svc, editor = make_service(any_store)
    with pytest.raises(AlreadyExists):
        svc.create_blog(editor, slug="storm", title="Again")  # type: ignore[arg-type]
    with pytest.raises(AlreadyExists):
        svc.create_user("ed", Role.EDITOR, "password-2")
    assert [b.title for b in svc.blogs()] == ["Storm"]


def test_redaction_touches_only_the_retracted_entry(any_store: SqlStore) -> None:
    """Retracting one entry redacts its own events and leaves its neighbours' intact."""
    svc, editor = make_service(any_store)
    keep = svc.create_entry(editor, "storm", body="keep me")  # type: ignore[arg-type]
    drop = svc.create_entry(editor, "storm", body="drop me")  # type: ignore[arg-type]
    svc.retract_entry(editor, "storm", drop.id)  # type: ignore[arg-type]
    _, events = svc.events("storm", after=0)
    assert ["keep me" in e.data for e in events] == [True, False, False]
    assert [e.type for e in events] == [
        EventType.ENTRY_PUBLISHED,
        EventType.ENTRY_PUBLISHED,
        EventType.ENTRY_RETRACTED,
    ]
    assert keep.id != drop.id


def test_tokens_are_stored_hashed(any_store: SqlStore) -> None:
    """The database never holds a usable API token, only its hash."""
    svc, _ = make_service(any_store)
    token = svc.create_token("ed")
    assert svc.user_for_token(token).name == "ed"
    from sqlalchemy import text

    with any_store.read() as tx:
        stored = [row[0] for row in tx.conn.execute(text("SELECT token_hash FROM api_tokens"))]
    assert token not in stored and len(stored) == 1


def test_nodes_starting_together_on_an_empty_postgresql_migrate_once(
    pg_template: str,
) -> None:
    """Four nodes migrating one empty PostgreSQL database at the same moment all succeed and
    leave one schema (the advisory lock serialises them)."""
    from conftest import PG_ADMIN_URL, _pg_connect

    name = f"{pg_template}_empty"
    with _pg_connect(PG_ADMIN_URL) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def start_node() -> None:
        store = SqlStore(url)
        try:
            barrier.wait()
            store.migrate()
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    try:
        threads = [threading.Thread(target=start_node) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        store = SqlStore(url)
        assert store.is_migrated()
        store.close()
    finally:
        with _pg_connect(PG_ADMIN_URL) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
