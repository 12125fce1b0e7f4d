"""The write unit, the one door for writes: events reach the hub only after their commit, and
never from a write that rolled back; audit rows commit with the change they describe."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from liveblog.domain.audit import AuditAction
from liveblog.domain.errors import InvalidState
from liveblog.domain.events import Event, EventType
from liveblog.domain.models import Role
from liveblog.service import Liveblog
from liveblog.storage.sql import SqlStore


class CommittedCheckingHub:
    """A hub that, when handed events, reads the log in a fresh transaction: what it finds
    there shows whether the write had committed before the hand-over."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.published: list[tuple[int, list[int], list[int]]] = []
        """(blog id, seqs handed over, seqs the log showed at that moment)."""

    def publish(self, blog_id: int, events: Sequence[Event]) -> None:
        with self.store.read() as tx:
            in_log = [e.seq for e in tx.events_after(blog_id, 0, 100)]
        self.published.append((blog_id, [e.seq for e in events], in_log))


@pytest.fixture
def hub(store: SqlStore) -> CommittedCheckingHub:
    return CommittedCheckingHub(store)


@pytest.fixture
def door_svc(store: SqlStore, hub: CommittedCheckingHub) -> Liveblog:
    return Liveblog(store, hub)


def test_events_reach_the_hub_only_once_committed(
    door_svc: Liveblog, hub: CommittedCheckingHub
) -> None:
    """Every use case's events are handed over after the commit: the log already holds them
    when the hub hears of them, and a write with no public change hands over nothing."""
    editor = door_svc.create_user("eddie", Role.EDITOR, None)
    blog = door_svc.create_blog(editor, slug="storm", title="Storm")
    door_svc.create_entry(editor, "storm", body="draft only", status="draft")
    assert hub.published == []  # a blog and a draft: nothing public happened
    door_svc.create_entry(editor, "storm", body="first", pinned=True)
    door_svc.create_entry(editor, "storm", body="second, pinned", pinned=True)
    door_svc.update_blog(editor, "storm", {"status": "ended"})
    assert hub.published == [
        (blog.id, [1], [1]),
        (blog.id, [2, 3], [1, 2, 3]),  # the unpin of the first and the new entry, together
        (blog.id, [4], [1, 2, 3, 4]),
    ]


def test_a_write_that_fails_hands_over_nothing_and_leaves_nothing(
    door_svc: Liveblog, hub: CommittedCheckingHub, store: SqlStore
) -> None:
    """A unit that appended an event and an audit row and then failed rolls both back, and the
    hub never hears of the event."""
    editor = door_svc.create_user("eddie", Role.EDITOR, None)
    blog = door_svc.create_blog(editor, slug="storm", title="Storm")
    with pytest.raises(InvalidState), door_svc.door.write() as unit:
        locked = unit.tx.blog_by_slug("storm", for_update=True)
        assert locked is not None
        unit.append(locked, EventType.BLOG_UPDATED, None, {"blog": {"title": "x"}})
        unit.record(editor, [(AuditAction.BLOG_EDIT, {"fields": ["title"]})], blog_id=blog.id)
        raise InvalidState("changed its mind")
    assert hub.published == []
    with store.read() as tx:
        assert tx.events_after(blog.id, 0, 10) == []
        assert [r.action for r in tx.audit_records(blog.id, 10)] == [AuditAction.BLOG_CREATE]
        after = tx.blog_by_id(blog.id)
        assert after is not None and after.seq == 0


def test_one_unit_writing_two_blogs_hands_each_its_own_events(
    door_svc: Liveblog, hub: CommittedCheckingHub
) -> None:
    """Events appended to several blogs in one unit reach the hub a blog at a time, in seq
    order, with every audit row of the unit committed alongside."""
    editor = door_svc.create_user("eddie", Role.EDITOR, None)
    a = door_svc.create_blog(editor, slug="a", title="A")
    b = door_svc.create_blog(editor, slug="b", title="B")
    with door_svc.door.write() as unit:
        blogs = [unit.tx.blog_by_slug(slug, for_update=True) for slug in ("a", "b", "a")]
        for blog in blogs:
            assert blog is not None
            unit.append(blog, EventType.BLOG_UPDATED, None, {})
            unit.record(None, [(AuditAction.BLOG_EDIT, {})], blog_id=blog.id)
    assert hub.published == [(a.id, [1, 2], [1, 2]), (b.id, [1], [1])]
    assert len(door_svc.audit_log(limit=10).records) == 3 + 3  # user, 2 blogs, and these three
