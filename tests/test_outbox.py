"""The outbox: what must leave the site is written in the change's own transaction and sent by
one relay per cluster, in order per lane, exactly once, retried with backoff across restarts —
against a real HTTP endpoint, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from liveblog.broadcast.base import NullHub
from liveblog.domain.events import EventType
from liveblog.domain.models import Role, User
from liveblog.domain.outbox import MAX_ATTEMPTS, OutboxItem, OutboxState
from liveblog.domain.purges import purge_paths
from liveblog.outbound.relay import LEASE_SECONDS, Relay
from liveblog.outbound.targets import PurgeTarget, TargetError, parse_targets
from liveblog.service import Liveblog
from liveblog.storage.sql import SqlStore
from liveblog.usecases.outbox import Reach
from liveblog.usecases.scheduler import run_retention
from receiver import Receiver

SLUG = "storm-desk"


class Clock:
    """The service's clock, moved by the test (backoff and leases are judged by it)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def service(store: SqlStore, clock: Clock, targets: tuple[str, ...] = ("edge",)) -> Liveblog:
    svc = Liveblog(store, NullHub(), clock=clock, reach=Reach(targets, "https://live.example"))
    svc.allow_private_targets = True
    return svc


def editor(svc: Liveblog) -> User:
    return svc.create_user("eddie", Role.EDITOR, "editor-password")


def relay(svc: Liveblog, receiver: Receiver, node: str = "node-a") -> Relay:
    target = PurgeTarget(name="edge", url=receiver.url + "{path}", method="PURGE")
    return Relay(svc, [target], "https://live.example", node, allow_private=True)


async def rounds(*relays: Relay, n: int = 3) -> None:
    """`n` rounds of each relay, as their loops would run them (leases included)."""
    async with httpx.AsyncClient(follow_redirects=False) as client:
        for _ in range(n):
            for r in relays:
                if await r._hold_lease():
                    await r.send_due(client)


def hourly_rounds(r: Relay, clock: Clock, n: int) -> None:
    """`n` rounds an hour apart: past any backoff, so each is one more attempt."""
    for _ in range(n):
        asyncio.run(rounds(r, n=1))
        clock.advance(3600)


def pending(store: SqlStore) -> list[OutboxItem]:
    with store.read() as tx:
        return tx.pending_outbox(1000)


def test_items_exist_exactly_when_their_change_committed(any_store: SqlStore) -> None:
    """A publish leaves one purge item per target listing the blog's pages, the entry's
    permalink and the site's feeds; a write that fails after appending its event leaves none."""
    clock = Clock()
    svc = service(any_store, clock, ("edge", "origin-shield"))
    user = editor(svc)
    svc.create_blog(user, slug=SLUG, title="Storm desk")
    entry = svc.create_entry(user, SLUG, body="Winds of 140 km/h at the coast")
    items = pending(any_store)
    published = [i for i in items if i.event_type == "entry-published"]
    assert sorted(i.target for i in published) == ["edge", "origin-shield"]
    paths = json.loads(published[0].payload)
    for path in (f"/blogs/{SLUG}", f"/blogs/{SLUG}/entries/{entry.id}", "/feed.atom"):
        assert path in paths
    before = len(items)
    with pytest.raises(RuntimeError), svc.door.write() as unit:
        blog = unit.tx.blog_by_slug(SLUG, for_update=True)
        assert blog is not None
        unit.append(blog, EventType.BLOG_UPDATED, None, {"blog": {"slug": SLUG}})
        raise RuntimeError("the use case failed after appending")
    assert len(pending(any_store)) == before


def test_a_lane_waits_for_its_failing_head_then_sends_in_order(
    store: SqlStore, receiver: Receiver
) -> None:
    """While the CDN answers 503 nothing of the lane is marked sent and its retry moves out by
    the backoff (the lane's purges are merged: tried together); once it answers again the next
    round sends one merged purge and marks every item sent."""
    clock = Clock()
    svc = service(store, clock)
    user = editor(svc)
    svc.create_blog(user, slug=SLUG, title="Storm desk")
    first = svc.create_entry(user, SLUG, body="Schools closed")
    second = svc.create_entry(user, SLUG, body="Trains suspended")
    r = relay(svc, receiver)
    receiver.status = 503
    asyncio.run(rounds(r, n=1))
    waiting = pending(store)
    assert len(waiting) == 3 and waiting[0].attempts == 1
    assert "HTTP 503" in waiting[0].last_error
    assert waiting[0].next_attempt_at == clock.now + timedelta(seconds=5)
    assert all(i.attempts == 1 for i in waiting), "the lane's purges were not merged"
    tried = len(receiver.received())
    asyncio.run(rounds(r, n=2))
    assert len(receiver.received()) == tried, "the head was retried before its backoff ran out"
    receiver.status = 200
    clock.advance(5)
    asyncio.run(rounds(r, n=1))
    assert pending(store) == []
    purged = {req.path for req in receiver.received()[tried:]}
    assert {f"/blogs/{SLUG}/entries/{first.id}", f"/blogs/{SLUG}/entries/{second.id}"} <= purged
    assert all(req.method == "PURGE" for req in receiver.received())
    assert not any(p.endswith("*") for p in purged), "prefix paths sent to a non-prefix target"


def test_a_later_delivery_waits_behind_a_failing_one(store: SqlStore, receiver: Receiver) -> None:
    """Webhook deliveries are not merged: while the first is refused, the second is never
    tried, and once the receiver is back they arrive publish first, then retraction."""
    clock = Clock()
    svc = service(store, clock, ())
    user = editor(svc)
    svc.create_blog(user, slug=SLUG, title="Storm desk")
    events = ["entry-published", "entry-retracted"]
    svc.add_webhook(user, SLUG, receiver.url + "/hook", events, None)
    entry = svc.create_entry(user, SLUG, body="Dam breached")
    svc.retract_entry(user, SLUG, entry.id)
    r = relay(svc, receiver)
    receiver.status = 503
    asyncio.run(rounds(r, n=3))
    assert len(receiver.received()) == 1
    assert [i.attempts for i in pending(store)] == [1, 0]
    receiver.status = 204
    clock.advance(5)
    asyncio.run(rounds(r, n=1))
    kinds = [req.headers["liveblog-event"] for req in receiver.received()]
    assert kinds == ["entry-published", "entry-published", "entry-retracted"]
    assert "Dam breached" not in receiver.received()[1].body.decode()


def test_an_item_is_given_up_after_its_last_attempt(store: SqlStore, receiver: Receiver) -> None:
    """A destination that never recovers gets MAX_ATTEMPTS tries; then the item is failed and
    the lane moves on to the next change."""
    clock = Clock()
    svc = service(store, clock)
    user = editor(svc)
    svc.create_blog(user, slug=SLUG, title="Storm desk")
    receiver.status = 500
    hourly_rounds(relay(svc, receiver), clock, MAX_ATTEMPTS)
    assert pending(store) == []
    with store.read() as tx:
        [item] = tx.outbox_items(1, 10)
    assert item.state is OutboxState.FAILED and item.attempts == MAX_ATTEMPTS


def test_two_relays_send_every_delivery_once_in_seq_order(
    any_store: SqlStore, receiver: Receiver
) -> None:
    """Two nodes' relays running side by side: only the lease holder sends, each of 20 webhook
    deliveries arrives once, in seq order."""
    clock = Clock()
    svc = service(any_store, clock, ())
    user = editor(svc)
    svc.create_blog(user, slug=SLUG, title="Storm desk")
    svc.add_webhook(user, SLUG, receiver.url + "/hook", ["entry-published"], None)
    for n in range(20):
        svc.create_entry(user, SLUG, body=f"Update {n}")
    a, b = relay(svc, receiver, "node-a"), relay(svc, receiver, "node-b")

    async def both() -> None:
        await asyncio.gather(rounds(a, n=3), rounds(b, n=3))

    asyncio.run(both())
    got = receiver.received()
    ids = [req.headers["liveblog-delivery"] for req in got]
    assert len(ids) == 20 and len(set(ids)) == 20
    seqs = [json.loads(req.body)["seq"] for req in got]
    assert seqs == sorted(seqs) == list(range(1, 21))


def test_the_lease_passes_to_another_node_once_it_lapses(
    store: SqlStore, receiver: Receiver
) -> None:
    """A node that stops renewing (it died) keeps the lease only until it lapses; then the
    other node's relay sends what was left pending — across a restart of the service."""
    clock = Clock()
    svc = service(store, clock)
    user = editor(svc)
    svc.create_blog(user, slug=SLUG, title="Storm desk")
    dead = relay(svc, receiver, "node-a")
    receiver.status = 503
    asyncio.run(rounds(dead, n=1))  # node-a holds the lease and fails once
    receiver.status = 200
    restarted = service(store, clock)  # a new process on the same database
    other = relay(restarted, receiver, "node-b")
    clock.advance(6)
    asyncio.run(rounds(other, n=1))
    assert pending(store), "node-b sent while node-a's lease held"
    clock.advance(LEASE_SECONDS)
    asyncio.run(rounds(other, n=1))
    assert pending(store) == []


def test_purge_paths_cover_every_view_of_a_change() -> None:
    """One list: pages, lite and embed, feeds, API views, the entry's permalink and JSON,
    recent `events` responses, site lists, and withdrawn renditions on the site's own host."""
    paths = purge_paths(
        "x",
        [7],
        40,
        "https://live.example",
        ["https://live.example/media/a.webp", "https://cdn.other/b.webp"],
    )
    for p in (
        "/blogs/x", "/blogs/x/lite", "/blogs/x/embed", "/blogs/x/feed.json",
        "/blogs/x/entries/7", "/api/blogs/x/entries/7", "/api/blogs/x/events?after=40",
        "/api/blogs/x/events?after=25", "/sitemap.xml", "/feed.rss", "/media/a.webp",
    ):  # fmt: skip
        assert p in paths, p
    assert "/api/blogs/x/events?after=24" not in paths
    assert not any("cdn.other" in p or p.endswith("b.webp") for p in paths)


def test_purge_target_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A usable setting parses with its secret read from the environment at send time; a bad
    one is refused with the reason."""
    monkeypatch.setenv("FASTLY_KEY", "k-123")
    [t] = parse_targets(
        '[{"name": "fastly", "url": "https://api.fastly.test/purge/{url}",'
        ' "headers": {"Fastly-Key": "${FASTLY_KEY}"}}]'
    )
    assert t.request_headers() == {"Fastly-Key": "k-123"}
    assert t.request_url("/blogs/x", "https://live.example") == (
        "https://api.fastly.test/purge/https://live.example/blogs/x"
    )
    for bad, reason in [
        ("{}", "list"),
        ('[{"name": "a", "url": "https://x/"}]', "{path}"),
        ('[{"name": "a", "url": "ftp://x/{path}"}]', "http"),
        ('[{"name": "a", "url": "https://x/{path}", "headers": {"K": "${NOPE_UNSET}"}}]', "NOPE"),
        ('[{"name": "a", "url": "https://x/{path}", "colour": 1}]', "unknown"),
    ]:
        with pytest.raises(TargetError, match=reason):
            parse_targets(bad)


def test_retention_forgets_settled_items_but_never_pending_ones(
    store: SqlStore, receiver: Receiver
) -> None:
    """A month after they were sent, items leave the table with the hourly retention; an item
    still pending (its destination away) stays however old it is."""
    clock = Clock()
    svc = service(store, clock)
    user = editor(svc)
    svc.create_blog(user, slug=SLUG, title="Storm desk")
    asyncio.run(rounds(relay(svc, receiver), n=1))  # the blog's purge: sent
    svc.add_webhook(user, SLUG, "http://127.0.0.1:9/hook", ["entry-published"], None)
    svc.create_entry(user, SLUG, body="Power cut in the east")  # its purge and delivery wait
    clock.advance(31 * 24 * 3600)
    assert run_retention(svc, "node-a")
    with store.read() as tx:
        left = tx.outbox_items(1, 100)
    assert {(i.kind.value, i.state.value) for i in left} == {
        ("purge", "pending"),
        ("webhook", "pending"),
    }


def test_lanes_waiting_for_retries_never_hold_up_another_blogs_purge(
    store: SqlStore, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More failing lanes than a round reads, all waiting for their retries, are not read at
    all: another blog's retraction purge goes out in the next round, and a round that sends
    nothing says so (the loop sleeps instead of spinning)."""
    monkeypatch.setattr("liveblog.outbound.relay.LANES_PER_ROUND", 2)
    clock = Clock()
    svc = service(store, clock, ())
    user = editor(svc)
    svc.create_blog(user, slug=SLUG, title="Storm desk")
    for n in range(3):
        svc.add_webhook(user, SLUG, f"{receiver.url}/down/{n}", ["entry-published"], None)
    svc.create_entry(user, SLUG, body="Gale warning")
    r = relay(svc, receiver)
    receiver.status = 503
    asyncio.run(rounds(r, n=2))  # every lane has failed once and waits for its retry
    assert len(receiver.received()) == 3
    svc.door.reach.purge_targets = ("edge",)
    svc.create_blog(user, slug="other-desk", title="Other desk")
    receiver.status = 200

    async def one() -> bool:
        async with httpx.AsyncClient() as client:
            assert await r._hold_lease()
            return await r.send_due(client)

    assert asyncio.run(one()) is True
    assert any(req.method == "PURGE" for req in receiver.received())
    assert asyncio.run(one()) is False


def test_an_unsendable_item_is_failed_with_its_reason_and_others_go_once(
    store: SqlStore, receiver: Receiver
) -> None:
    """A webhook whose stored URL cannot even be parsed for sending (written before a check
    existed) gets an attempt and an error in the log; the blog's other webhook gets its
    delivery exactly once, however many rounds run."""
    from liveblog.domain.events import EventType as E
    from liveblog.domain.outbox import Webhook

    clock = Clock()
    svc = service(store, clock, ())
    user = editor(svc)
    blog = svc.create_blog(user, slug=SLUG, title="Storm desk")
    with store.write() as tx:
        tx.insert_webhook(
            Webhook(blog.id, "http://1.1.1.1/\x7f", (E.ENTRY_PUBLISHED,), "s" * 20, clock.now)
        )
    svc.add_webhook(user, SLUG, receiver.url + "/ok", ["entry-published"], None)
    svc.create_entry(user, SLUG, body="Gale warning")
    asyncio.run(rounds(relay(svc, receiver), n=3))
    assert [req.path for req in receiver.received()] == ["/ok"]
    [bad] = [i for i in pending(store)]
    assert bad.attempts == 1 and "control characters" in bad.last_error


def test_a_fresh_purge_merged_with_an_old_one_keeps_its_own_attempts(
    store: SqlStore, receiver: Receiver
) -> None:
    """When the lane's head is given up after its last attempt, a purge merged into that
    same send is marked by its own count: one failure, still pending."""
    clock = Clock()
    svc = service(store, clock)
    user = editor(svc)
    svc.create_blog(user, slug=SLUG, title="Storm desk")
    receiver.status = 500
    r = relay(svc, receiver)
    hourly_rounds(r, clock, MAX_ATTEMPTS - 1)
    svc.create_entry(user, SLUG, body="A new entry during the outage")
    asyncio.run(rounds(r, n=1))
    with store.read() as tx:
        items = {i.event_type: i for i in tx.outbox_items(1, 10)}
    assert items[""].state is OutboxState.FAILED
    fresh = items["entry-published"]
    assert fresh.state is OutboxState.PENDING and fresh.attempts == 1
