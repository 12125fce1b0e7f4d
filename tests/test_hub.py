"""The in-process hub on its own: ordering, gap repair from the log, bounded buffers, replay.

Readers here are real stream sessions (web/streaming/session.py) writing to a connection held
in memory, so the hub's side of every reader is the one the servers use."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

from liveblog.broadcast.channel import Channel
from liveblog.broadcast.memory import InProcessHub
from liveblog.domain.events import Event, EventType
from liveblog.domain.models import Blog, BlogStatus
from liveblog.storage.memlog import MemoryEventLog
from liveblog.web.streaming.session import StreamSession


def event(seq: int, body: str = "x", kind: EventType = EventType.ENTRY_PUBLISHED) -> Event:
    return Event(
        blog_id=1,
        seq=seq,
        type=kind,
        entry_id=seq,
        data=f'{{"entry":{{"id":{seq},"body":"{body}"}}}}',
        created_at=datetime.now(UTC),
    )


class Log(MemoryEventLog):
    """The in-memory event log (the same contract as the store's, tests/test_event_log.py) for
    blog 1, counting the hub's reads of it."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def fetch(self, blog_id: int, after: int, limit: int) -> list[Event]:
        self.reads += 1
        return self.events_after(blog_id, after, limit)

    @property
    def events(self) -> list[Event]:
        return self.events_after(1, 0, 1_000_000)

    def add(
        self, count: int = 1, body: str = "x", kind: EventType = EventType.ENTRY_PUBLISHED
    ) -> list[Event]:
        """Append `count` events, each about the entry numbered as its seq."""
        added = []
        for _ in range(count):
            seq = len(self.events) + 1
            data = event(seq, body, kind).data
            added.append(self.append_event(1, kind, seq, data, datetime.now(UTC)))
        return added

    def redact(self, entry_id: int) -> None:
        """What the store does to earlier events in a retraction's transaction."""
        self.redact_entry_events(1, entry_id, event(entry_id, "redacted").data)


class MemoryWriter:
    """A reader's connection held in memory: what its session writes stays unsent until the
    test takes it, as bytes a socket has not accepted yet."""

    def __init__(self, hub: InProcessHub) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self.status = 0
        self.finished = False
        self.cut = False
        self.wake = asyncio.Event()
        self.session = StreamSession(hub, self)

    @property
    def closed(self) -> bool:
        return self.finished or self.cut

    def send(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)
        self.wake.set()

    def unsent(self) -> int:
        return self.size

    def start_stream(self, first: bytes) -> None:
        self.status = 200
        self.send(first)

    def finish(self) -> None:
        self.finished = True
        self.wake.set()

    def cut_off(self) -> None:
        self.cut = True
        self.parts, self.size = [], 0
        self.wake.set()

    def no_content(self) -> None:
        self.status = 204
        self.finish()

    def error(self, status: int, message: str) -> None:
        self.status = status
        self.finish()

    def stalled_since(self) -> float:
        return 0.0

    def take(self) -> tuple[bytes, bool]:
        """Everything written so far (the reader reads it all), and whether the stream ended."""
        data = b"".join(self.parts)
        self.parts, self.size = [], 0
        self.wake.clear()
        self.session.drained()
        return data, self.closed


def blog_at(seq: int = 0) -> Blog:
    now = datetime.now(UTC)
    return Blog(
        id=1,
        slug="b",
        title="t",
        description="",
        key_points=[],
        language="en",
        timezone="UTC",
        status=BlogStatus.LIVE,
        seq=seq,
        created_at=now,
        updated_at=now,
    )


def subscribe(hub: InProcessHub, after: int = 0, seq: int = 0) -> tuple[MemoryWriter, Channel]:
    """A reader of blog 1 who has seen events up to `after`; the store said seq was `seq`."""
    blog = blog_at(seq)
    channel = hub.channel(blog)
    writer = MemoryWriter(hub)
    writer.session.open(lambda slug: blog, "b", str(after))
    writer.take()  # the response head's retry hint
    return writer, channel


def ids(chunk: bytes) -> list[int]:
    return [int(line[4:]) for line in chunk.split(b"\n") if line.startswith(b"id: ")]


async def drain(sub, timeout: float = 2.0) -> list[int]:  # type: ignore[no-untyped-def]
    await asyncio.wait_for(sub.wake.wait(), timeout)
    chunk, _ = sub.take()
    return ids(chunk)


async def replayed(hub: InProcessHub, channel: Channel, after: int) -> list[bytes]:
    """Every piece of the replay of (after, channel.seq], loading pages as needed."""
    replay = hub.replay(channel, after, channel.seq)
    pieces: list[bytes] = []
    while not replay.done:
        piece = replay.next_piece()
        if piece is None:
            await replay.load()
        else:
            pieces.append(piece)
    return pieces


def frames_of(pieces: list[bytes]) -> list[bytes]:
    return [f + b"\n\n" for f in b"".join(pieces).split(b"\n\n") if f]


def test_out_of_order_notifications_are_delivered_in_order() -> None:
    """If seq 3 is announced before 2, the reader still gets 1, 2, 3 in order, each once."""
    log = Log()

    async def scenario() -> list[int]:
        hub = InProcessHub(log.fetch)
        await hub.start()
        sub, _ = subscribe(hub)
        await asyncio.sleep(0.05)  # let the subscribe-time log check finish
        log.add(3)
        hub.publish(1, [event(1)])
        hub.publish(1, [event(3)])  # 2's notification is late
        got: list[int] = []
        while len(got) < 3:
            got += await drain(sub)
        hub.publish(1, [event(2)])  # the late one arrives: a duplicate, dropped
        await asyncio.sleep(0.05)
        got += ids(sub.take()[0])
        await hub.stop()
        return got

    assert asyncio.run(scenario()) == [1, 2, 3]


def test_lost_notification_is_repaired_from_the_log() -> None:
    """An event whose notification never came is read from the log when the next one arrives."""
    log = Log()

    async def scenario() -> list[int]:
        hub = InProcessHub(log.fetch)
        await hub.start()
        sub, _ = subscribe(hub)
        await asyncio.sleep(0.05)
        log.add(2)
        hub.publish(1, [event(2)])  # 1 was never announced
        got: list[int] = []
        while len(got) < 2:
            got += await drain(sub)
        await hub.stop()
        return got

    assert asyncio.run(scenario()) == [1, 2]


def test_a_failed_log_read_is_retried_until_the_gap_closes() -> None:
    """The database fails the first reads of a repair: the hub keeps trying and the reader
    still gets every event in order (not only after some later signal)."""
    log = Log()
    failures = [RuntimeError("database restarting")] * 2

    def flaky_fetch(blog_id: int, after: int, limit: int) -> list[Event]:
        if failures:
            raise failures.pop()
        return log.fetch(blog_id, after, limit)

    async def scenario() -> list[int]:
        hub = InProcessHub(flaky_fetch)
        await hub.start()
        sub, _ = subscribe(hub)
        await asyncio.sleep(0.05)
        log.add(2)
        hub.signal(1, 2)  # another node reached seq 2; this node must read the log
        got: list[int] = []
        while len(got) < 2:
            got += await drain(sub, timeout=3.0)
        await hub.stop()
        return got

    assert asyncio.run(scenario()) == [1, 2]


def test_event_committed_while_subscribing_is_not_missed() -> None:
    """An event that lands between a reader's read of seq and its subscription still reaches it."""
    log = Log()
    log.add()

    async def scenario() -> list[int]:
        hub = InProcessHub(log.fetch)
        await hub.start()
        hub.publish(1, [event(1)])  # no channel yet: the hub drops it
        sub, _ = subscribe(hub)  # the reader read seq 0 a moment ago
        got = await drain(sub)
        await hub.stop()
        return got

    assert asyncio.run(scenario()) == [1]


def test_slow_reader_is_cut_off_without_blocking_others() -> None:
    """A reader whose unsent frames pass the buffer limit is closed; a reader keeping up is not."""
    log = Log()

    async def scenario() -> tuple[bool, list[int]]:
        hub = InProcessHub(log.fetch, buffer_limit=2_000)
        await hub.start()
        slow, _ = subscribe(hub)
        fast, _ = subscribe(hub)
        await asyncio.sleep(0.05)
        got: list[int] = []
        for _ in range(40):
            hub.publish(1, log.add(body="y" * 100))
            got += await drain(fast)
        await hub.stop()
        return slow.cut, got

    cut, got = asyncio.run(scenario())
    assert cut
    assert got == list(range(1, 41))


def test_frame_is_encoded_once_and_shared() -> None:
    """Every subscriber receives the very same bytes object for an event (render once)."""
    log = Log()

    async def scenario() -> bool:
        hub = InProcessHub(log.fetch)
        await hub.start()
        subs = [subscribe(hub)[0] for _ in range(3)]
        await asyncio.sleep(0.05)
        hub.publish(1, log.add())
        await asyncio.sleep(0.01)
        frames = [sub.parts[0] for sub in subs]
        await hub.stop()
        return all(frame is frames[0] for frame in frames)

    assert asyncio.run(scenario())


def test_retraction_empties_the_replay_cache() -> None:
    """After a retraction, a reconnecting reader's replay comes from the (redacted) log, not
    from cached frames that still hold the retracted text."""
    log = Log()

    async def scenario() -> list[bytes]:
        hub = InProcessHub(log.fetch)
        await hub.start()
        _, channel = subscribe(hub)
        await asyncio.sleep(0.05)
        hub.publish(1, log.add(body="SECRET"))
        log.redact(1)
        hub.publish(1, log.add(kind=EventType.ENTRY_RETRACTED))
        await asyncio.sleep(0.01)
        pieces = await replayed(hub, channel, after=0)
        await hub.stop()
        return frames_of(pieces)

    frames = asyncio.run(scenario())
    assert len(frames) == 2
    assert not any(b"SECRET" in f for f in frames)


def test_fan_out_in_slices_keeps_every_reader_in_order(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Written a slice of readers per loop turn, events still reach each reader once, in order,
    and other work (an editor's response) runs between slices."""
    from liveblog.broadcast import memory

    monkeypatch.setattr(memory, "SLICE", 2)
    log = Log()

    async def scenario() -> tuple[list[list[int]], list[str]]:
        hub = InProcessHub(log.fetch)
        await hub.start()
        readers = [subscribe(hub)[0] for _ in range(5)]
        await asyncio.sleep(0.05)
        trace: list[str] = []
        log.add(2)
        hub.publish(1, log.events)
        asyncio.get_running_loop().call_soon(trace.append, "other work")
        trace.append(f"after publish: {sum(len(r.parts) for r in readers)} queued")
        await asyncio.sleep(0.05)
        got = [ids(r.take()[0]) for r in readers]
        await hub.stop()
        return got, trace

    got, trace = asyncio.run(scenario())
    assert got == [[1, 2]] * 5
    assert trace == ["after publish: 2 queued", "other work"]


def test_readers_catching_up_in_one_region_share_each_page_read_and_encoding() -> None:
    """Fifty readers resuming at fifty places in the same stretch of the log cost one log read
    per page between them, and past their first piece get the very same bytes objects."""
    log = Log()
    log.add(1000, "x" * 400)  # 2 chunks a page

    async def scenario() -> tuple[list[list[bytes]], int]:
        hub = InProcessHub(log.fetch)
        await hub.start()
        channel = hub.channel(blog_at(1000))  # as after a restart: nothing in memory
        await asyncio.sleep(0.05)  # the new channel's one look at the log
        log.reads = 0
        got = await asyncio.gather(*(replayed(hub, channel, after=100 + k) for k in range(50)))
        await hub.stop()
        return list(got), log.reads

    results, reads = asyncio.run(scenario())
    assert reads == 4  # seqs 1-256, 257-512, 513-768, 769-1000
    for k, pieces in enumerate(results):
        assert ids(b"".join(pieces)) == list(range(101 + k, 1001))
    # seqs 257-1000: three whole pages, two chunks each, the same bytes for every reader
    first, other = results[0][-6:], results[49][-6:]
    assert ids(b"".join(first))[0] == 257
    assert all(a is b for a, b in zip(first, other, strict=True))


def test_a_retraction_drops_the_shared_pages_of_the_log() -> None:
    """A page read before a retraction (it holds the retracted text) is not replayed to a
    reader who comes after the retraction was fanned out."""
    log = Log()
    log.add(body="SECRET")
    log.add()

    async def scenario() -> tuple[bytes, bytes]:
        hub = InProcessHub(log.fetch)
        await hub.start()
        channel = hub.channel(blog_at(2))
        await asyncio.sleep(0.05)
        before = b"".join(await replayed(hub, channel, after=0))
        log.redact(1)
        hub.publish(1, log.add(kind=EventType.ENTRY_RETRACTED))
        await asyncio.sleep(0.01)
        after = b"".join(await replayed(hub, channel, after=0))
        await hub.stop()
        return before, after

    before, after = asyncio.run(scenario())
    assert b"SECRET" in before
    assert b"SECRET" not in after and ids(after) == [1, 2, 3]


def test_a_page_read_across_a_retraction_is_not_shared_afterwards() -> None:
    """A page whose read began before a retraction and ended after it reaches the reader who
    was waiting for it, but nobody who asks once the retraction was fanned out."""
    log = Log()
    log.add(body="SECRET")
    log.add()
    gate, reading = threading.Event(), threading.Event()
    armed = False

    def fetch(blog_id: int, after: int, limit: int) -> list[Event]:
        seen = log.fetch(blog_id, after, limit)  # the read's snapshot: before the retraction
        if armed:
            reading.set()
            gate.wait(5)
        return seen

    async def scenario() -> tuple[bytes, bytes]:
        nonlocal armed
        hub = InProcessHub(fetch)
        await hub.start()
        channel = hub.channel(blog_at(2))
        await asyncio.sleep(0.05)
        armed = True
        early = asyncio.ensure_future(replayed(hub, channel, after=0))
        await asyncio.to_thread(reading.wait, 5)
        armed = False
        log.redact(1)
        hub.publish(1, log.add(kind=EventType.ENTRY_RETRACTED))
        await asyncio.sleep(0.01)
        gate.set()
        waited = b"".join(await early)
        late = b"".join(await replayed(hub, channel, after=0))
        await hub.stop()
        return waited, late

    waited, late = asyncio.run(scenario())
    assert ids(waited) == [1, 2]  # that reader gets the retraction live, after its replay
    assert b"SECRET" not in late and ids(late) == [1, 2, 3]


def test_a_gap_past_the_hubs_memory_comes_from_the_log_then_from_memory() -> None:
    """A reader whose gap begins before the hub's memory of recent frames gets that part from
    the log and the rest from memory: every frame once, in order, and no log read for what
    memory holds."""
    log = Log()

    async def scenario() -> tuple[list[int], int, int]:
        hub = InProcessHub(log.fetch)
        await hub.start()
        channel = hub.channel(blog_at(0))
        await asyncio.sleep(0.05)
        for _ in range(1300):  # memory keeps the newest 1,024: seqs 277-1300
            hub.publish(1, log.add())
        await asyncio.sleep(0.05)
        log.reads = 0
        pieces = await replayed(hub, channel, after=0)
        await hub.stop()
        return ids(b"".join(pieces)), log.reads, channel.floor

    got, reads, floor = asyncio.run(scenario())
    assert floor == 276
    assert got == list(range(1, 1301))
    assert reads == 2  # seqs 1-256 and 257-512; 513-1300 from memory


def test_readers_arriving_together_share_one_read_of_the_blog() -> None:
    """A hundred readers reconnecting to a process that has no channel for their blog yet (a
    restart) cost one read of the blog between them, and all of them stream."""
    log = Log()
    looked_up: list[str] = []

    def lookup(slug: str) -> Blog:
        looked_up.append(slug)
        return blog_at(0)

    async def scenario() -> list[int]:
        hub = InProcessHub(log.fetch)
        await hub.start()
        writers = [MemoryWriter(hub) for _ in range(100)]
        for writer in writers:
            writer.session.open(lookup, "b", "0")
        await asyncio.sleep(0.1)
        statuses = [writer.status for writer in writers]
        await hub.stop()
        return statuses

    assert asyncio.run(scenario()) == [200] * 100
    assert looked_up == ["b"]
