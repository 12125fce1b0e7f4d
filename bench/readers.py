"""The fan-out load client: N Server-Sent Events readers spread over K processes.

Each process runs an asyncio loop (uvloop when installed) over raw non-blocking sockets: one
fresh connection per reader, `GET <path> HTTP/1.1`, the response head, then frames. Every
`recvmsg` carries the kernel's receive timestamp (SO_TIMESTAMPNS, CLOCK_REALTIME), so the time
recorded for an entry is when the kernel received the bytes that completed its frame, not when
this busy client got round to reading them. For each complete frame (ended by a blank line) that
holds the marker `bench-<n>` the reader keeps (n, timestamp); duplicates, out-of-order frames
and disconnects are counted. At the end each process sends its readers' timestamps back to the
parent as one flat array of int64 (reader-major, 0 = never received).

The parent drives the processes through `ReaderPool`: connect (in batches, waiting for every
response head before the next batch, since the server's listen backlog is finite), then the
caller publishes, then collect.

For the catch-up benchmark a pool can also keep each reader's last SSE `id:` (`track_ids`),
close every reader's socket at once and reopen them all with `Last-Event-ID` (`close_readers`,
`reopen`: a deploy), and reconnect a reader the server closed, as EventSource does
(`auto_resume`). Entries are counted by marker over all of a reader's connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import re
import socket
import time
from array import array
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from bench.common import ANCILLARY_SPACE, HOST, SO_TIMESTAMPNS, TIMESPEC, raise_file_limit

RECV_SIZE = 256 * 1024
MARKER = b"bench-"
MARKED = re.compile(rb"bench-(\d+)[^\n]*")  # a frame's first marker, and the rest of its line
CONNECT_ATTEMPTS = 3
LAG_BUCKETS = 10_000


@dataclass(frozen=True)
class ClientSpec:
    """What one client process does (sent to it when it starts)."""

    port: int
    path: str
    extra_headers: tuple[tuple[str, str], ...]
    readers: int
    publishes: int  # markers bench-1 .. bench-<publishes> are expected
    batch: int
    nice: int
    head_timeout: float
    # Catch-up (all off by default): keep each reader's last SSE `id:` (and the kernel time of
    # its latest response head); `auto_resume` > 0 reconnects a reader the server closed after
    # that many seconds with `Last-Event-ID`, as a browser's EventSource does.
    track_ids: bool = False
    auto_resume: float = 0.0


class Reader:
    __slots__ = (
        "buf",
        "got",
        "head",
        "head_done",
        "head_ns",
        "last",
        "last_id",
        "sock",
        "times_offset",
    )

    def __init__(self, times_offset: int) -> None:
        self.sock: socket.socket | None = None
        self.buf = b""
        self.head = True  # still reading the response head
        self.head_done: asyncio.Future[None] | None = None
        self.last = 0
        self.got = 0
        self.times_offset = times_offset
        self.last_id = 0  # the last SSE id received (track_ids only)
        self.head_ns = 0  # kernel receive time of the latest response head (track_ids only)


@dataclass
class ClientCounts:
    connected: int = 0
    connect_failures: int = 0
    connect_retries: int = 0
    disconnects: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    complete: int = 0  # readers holding every expected entry
    frame_bytes: int = 0  # size of the first marked frame seen (blank line included)
    frame_data_bytes: int = 0  # the payload of its data: lines
    connect_seconds: float = 0.0
    resumes: int = 0  # reconnects after the server closed a reader (auto_resume)
    resume_failures: int = 0  # reconnects (`reconnect` command or auto_resume) that failed
    errors: list[str] = field(default_factory=list)
    # How long marked frames waited in the kernel before this client read them, by whole ms
    # (the last bucket holds everything longer): a check that the client kept up, so that TCP
    # flow control never held back the server's writes.
    read_lag_ms: list[int] = field(default_factory=lambda: [0] * (LAG_BUCKETS + 1))

    def read_lag_percentile(self, q: float) -> float:
        total = sum(self.read_lag_ms)
        if not total:
            return float("nan")
        rank = max(1, round(q / 100 * total + 0.5))
        seen = 0
        for ms, count in enumerate(self.read_lag_ms):
            seen += count
            if seen >= rank:
                return float(ms)
        return float(LAG_BUCKETS)


class Client:
    """One client process's readers (runs inside the child process)."""

    def __init__(self, spec: ClientSpec, conn: Connection) -> None:
        self.spec = spec
        self.conn = conn
        self.counts = ClientCounts()
        self.times = array("q", bytes(8 * spec.readers * spec.publishes))
        self.readers = [Reader(i * spec.publishes) for i in range(spec.readers)]
        self.all_done: asyncio.Event | None = None
        self.collecting = False
        self.gone_incomplete = 0
        headers = "".join(f"{k}: {v}\r\n" for k, v in spec.extra_headers)
        self.request = (
            f"GET {spec.path} HTTP/1.1\r\nHost: {HOST}:{spec.port}\r\n{headers}\r\n"
        ).encode("latin-1")
        self.loop: asyncio.AbstractEventLoop | None = None

    async def run(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.all_done = asyncio.Event()
        commands: asyncio.Queue[Any] = asyncio.Queue()
        self.loop.add_reader(self.conn.fileno(), self.on_command, commands)
        while True:
            command, arg = await commands.get()
            # The loop made the pipe non-blocking; a large reply must not fail with EAGAIN.
            os.set_blocking(self.conn.fileno(), True)
            if command == "connect":
                await self.connect_all()
                self.conn.send(self.counts)
            elif command == "collect":
                self.collecting = True
                self.check_done()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.all_done.wait(), timeout=arg)
                self.counts.complete = sum(r.got == self.spec.publishes for r in self.readers)
                self.conn.send(self.counts)
                self.conn.send_bytes(self.times)
            elif command == "close":
                self.conn.send(self.close_for_reconnect())
            elif command == "reopen":
                self.conn.send(await self.reopen_all(arg))
            elif command == "quit":
                self.close_all()
                return

    def on_command(self, commands: asyncio.Queue[Any]) -> None:
        try:
            commands.put_nowait(self.conn.recv())
        except (EOFError, OSError):  # the parent is gone: stop
            assert self.loop is not None
            self.loop.remove_reader(self.conn.fileno())
            commands.put_nowait(("quit", None))

    # --- connecting -------------------------------------------------------------------------

    async def connect_all(self) -> None:
        started = time.monotonic()
        batch = self.spec.batch
        for first in range(0, len(self.readers), batch):
            group = self.readers[first : first + batch]
            results = await asyncio.gather(*(self.connect_one(r) for r in group))
            self.counts.connected += sum(results)
            self.counts.connect_failures += len(results) - sum(results)
        self.counts.connect_seconds = time.monotonic() - started

    async def connect_one(self, reader: Reader, resume: bool = False) -> bool:
        """Open the reader's stream (with `Last-Event-ID: <its last id>` if `resume`); a
        reader that never connected has its entries marked -1, a resumed one keeps them."""
        loop = self.loop
        assert loop is not None
        request = self.request
        if resume and reader.last_id:
            request = request[:-2] + b"Last-Event-ID: %d\r\n\r\n" % reader.last_id
        for attempt in range(CONNECT_ATTEMPTS):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            reader.sock = sock
            reader.head = True
            reader.buf = b""
            reader.head_done = loop.create_future()
            try:
                await asyncio.wait_for(
                    loop.sock_connect(sock, (HOST, self.spec.port)), self.spec.head_timeout
                )
                sock.send(request)  # small: fits any fresh socket's send buffer
                loop.add_reader(sock.fileno(), self.on_readable, reader)
                await asyncio.wait_for(reader.head_done, self.spec.head_timeout)
                return True
            except (OSError, TimeoutError, ConnectionError) as exc:
                self.drop(reader)
                if len(self.counts.errors) < 5:
                    self.counts.errors.append(f"connect: {exc!r}")
                if attempt + 1 < CONNECT_ATTEMPTS:
                    self.counts.connect_retries += 1
                    await asyncio.sleep(0.2 * (attempt + 1))
        if resume:
            self.counts.resume_failures += 1
            return False
        # Marks the reader as never connected, as opposed to connected and lost (0).
        first = reader.times_offset
        self.times[first : first + self.spec.publishes] = array("q", [-1] * self.spec.publishes)
        return False

    def drop(self, reader: Reader) -> None:
        sock, reader.sock = reader.sock, None
        if sock is not None:
            assert self.loop is not None
            with contextlib.suppress(OSError, ValueError):
                self.loop.remove_reader(sock.fileno())
            sock.close()

    def close_all(self) -> None:
        for reader in self.readers:
            self.drop(reader)

    def close_for_reconnect(self) -> int:
        """A deploy, first half: close every reader's socket at once (they keep what they
        received and their last id). Returns the time (ns, CLOCK_REALTIME) it started."""
        closed_ns = time.time_ns()
        self.close_all()
        return closed_ns

    async def reopen_all(self, batch: int) -> dict[str, Any]:
        """The second half: reopen every reader (`batch` in flight, 0: all at once), each with
        `Last-Event-ID` = the last id it received. Returns when it started and finished (ns,
        CLOCK_REALTIME), and per reader the id sent and the kernel receive time of its new
        response head (0 if it failed)."""
        resumed_from = [r.last_id for r in self.readers]
        for reader in self.readers:
            reader.head_ns = 0
        started_ns = time.time_ns()
        step = batch or len(self.readers)
        ok = 0
        for first in range(0, len(self.readers), step):
            group = self.readers[first : first + step]
            results = await asyncio.gather(*(self.connect_one(r, resume=True) for r in group))
            ok += sum(results)
        return {
            "started_ns": started_ns,
            "done_ns": time.time_ns(),
            "reconnected": ok,
            "resumed_from": resumed_from,
            "head_ns": [r.head_ns for r in self.readers],
        }

    async def resume_later(self, reader: Reader) -> None:
        await asyncio.sleep(self.spec.auto_resume)
        if reader.sock is None and not await self.connect_one(reader, resume=True):
            self.gone_incomplete += 1
            self.check_done()

    # --- reading (the hot path: one call per readable socket) -------------------------------

    def on_readable(self, reader: Reader) -> None:
        sock = reader.sock
        if sock is None:
            return
        try:
            data, anc, _flags, _addr = sock.recvmsg(RECV_SIZE, ANCILLARY_SPACE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.lost(reader, exc)
            return
        if not data:
            self.lost(reader, None)
            return
        if reader.head:
            buf = reader.buf + data
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                reader.buf = buf
                return
            reader.head = False
            if self.spec.track_ids:
                reader.head_ns = self.timestamp(anc)
            status = buf[: buf.find(b"\r\n")]
            done = reader.head_done
            if not status.startswith(b"HTTP/1.1 200"):
                if done is not None and not done.done():
                    done.set_exception(ConnectionError(f"status {status!r}"))
                return
            if done is not None and not done.done():
                done.set_result(None)
            data = buf[end + 4 :]
            reader.buf = b""
            if not data:
                return
        # Only complete frames (ended by a blank line) are read; the rest waits for more data.
        # The leftover of the last call is at most one frame: it is joined with the start of
        # the new data alone, never copied along with all of it.
        ts = 0
        start = 0
        left = reader.buf
        if left:
            if left.endswith(b"\n") and data.startswith(b"\n"):
                first_end = 0  # the blank line straddles the two reads
            else:
                first_end = data.find(b"\n\n")
                if first_end < 0:
                    reader.buf = left + data
                    return
                first_end += 1
            frame = left + data[: first_end + 1]
            ts = self.frames(reader, frame, 0, len(frame), anc, ts)
            start = first_end + 1
        end = data.rfind(b"\n\n", start)
        if end < 0:
            reader.buf = data[start:] if left else data
            return
        self.frames(reader, data, start, end + 2, anc, ts)
        reader.buf = data[end + 2 :]

    def frames(self, reader: Reader, buf: bytes, start: int, end: int, anc: Any, ts: int) -> int:
        """Record the marker of every frame in buf[start:end] (complete frames only). A frame's
        data is one line of JSON whose entry carries the marker in its body and again in its
        html: the first one counts and the pattern takes the rest of the line with it. Returns
        the receive timestamp, read from `anc` the first time one is needed."""
        if self.spec.track_ids:
            self.note_id(reader, buf, start, end)
        for match in MARKED.finditer(buf, start, end):
            if not ts:
                ts = self.timestamp(anc)
                lag = (time.time_ns() - ts) // 1_000_000
                self.counts.read_lag_ms[lag if 0 <= lag < LAG_BUCKETS else LAG_BUCKETS] += 1
            self.record(reader, int(match.group(1)), ts, buf, match.start())
        return ts

    @staticmethod
    def note_id(reader: Reader, buf: bytes, start: int, end: int) -> None:
        """The `id:` field (a line of its own) of the last frame in buf[start:end] that has
        one: where this reader would resume."""
        at = buf.rfind(b"\nid: ", start, end)
        if at >= 0:
            at += 1
        elif buf.startswith(b"id: ", start):
            at = start
        else:
            return
        stop = buf.find(b"\n", at, end)
        digits = buf[at + 4 : stop if stop >= 0 else end]
        if digits.isdigit():
            reader.last_id = int(digits)

    @staticmethod
    def timestamp(anc: list[tuple[int, int, bytes]]) -> int:
        for _level, _kind, raw in anc:
            if len(raw) >= TIMESPEC.size:
                sec, nsec = TIMESPEC.unpack_from(raw)
                return sec * 1_000_000_000 + nsec
        return time.time_ns()  # no timestamp: fall back to the client's own clock

    def record(self, reader: Reader, n: int, ts: int, buf: bytes, at: int) -> None:
        publishes = self.spec.publishes
        if not 1 <= n <= publishes:
            return
        slot = reader.times_offset + n - 1
        if self.times[slot]:
            self.counts.duplicates += 1
            return
        self.times[slot] = ts
        if n < reader.last:
            self.counts.out_of_order += 1
        else:
            reader.last = n
        if not self.counts.frame_bytes:
            start = buf.rfind(b"\n\n", 0, at) + 2 if buf.rfind(b"\n\n", 0, at) >= 0 else 0
            stop = buf.find(b"\n\n", at)
            frame = buf[start : stop if stop >= 0 else len(buf)]
            self.counts.frame_bytes = len(frame) + 2
            self.counts.frame_data_bytes = sum(
                len(line) - 6 for line in frame.split(b"\n") if line.startswith(b"data: ")
            )
        reader.got += 1
        if reader.got == publishes:
            self.counts.complete += 1
            self.check_done()

    def lost(self, reader: Reader, exc: BaseException | None) -> None:
        done = reader.head_done
        if reader.head and done is not None and not done.done():
            done.set_exception(ConnectionError(f"closed before the response head: {exc!r}"))
        else:
            self.counts.disconnects += 1
            if self.spec.auto_resume > 0 and reader.last_id:
                self.counts.resumes += 1
                self.drop(reader)
                assert self.loop is not None
                self.loop.create_task(self.resume_later(reader))
                return
            if reader.got < self.spec.publishes:
                self.gone_incomplete += 1  # it will never complete: do not wait for it
                self.check_done()
        self.drop(reader)

    def check_done(self) -> None:
        counts = self.counts
        if self.collecting and counts.complete + self.gone_incomplete >= counts.connected:
            assert self.all_done is not None
            self.all_done.set()


def _client_main(spec: ClientSpec, conn: Connection) -> None:
    raise_file_limit()
    if spec.nice:
        os.nice(spec.nice)
    client = Client(spec, conn)
    try:
        import uvloop

        uvloop.run(client.run())
    except ImportError:
        asyncio.run(client.run())


# --- the parent's side ----------------------------------------------------------------------


@dataclass
class Collected:
    readers: int
    publishes: int
    times: array[int]  # reader-major: times[r * publishes + i]
    counts: ClientCounts


def _merge(counts: list[ClientCounts]) -> ClientCounts:
    total = ClientCounts()
    for c in counts:
        for name in (
            "connected",
            "connect_failures",
            "connect_retries",
            "disconnects",
            "duplicates",
            "out_of_order",
            "complete",
            "resumes",
            "resume_failures",
        ):
            setattr(total, name, getattr(total, name) + getattr(c, name))
        total.connect_seconds = max(total.connect_seconds, c.connect_seconds)
        total.frame_bytes = total.frame_bytes or c.frame_bytes
        total.frame_data_bytes = total.frame_data_bytes or c.frame_data_bytes
        total.errors.extend(c.errors)
        total.read_lag_ms = [a + b for a, b in zip(total.read_lag_ms, c.read_lag_ms, strict=True)]
    return total


class ReaderPool:
    """K client processes holding N readers between them, driven from the parent."""

    def __init__(
        self,
        *,
        port: int,
        path: str,
        readers: int,
        processes: int,
        publishes: int,
        extra_headers: tuple[tuple[str, str], ...] = (),
        nice: int = 0,
        batch: int = 250,
        head_timeout: float = 30.0,
        track_ids: bool = False,
        auto_resume: float = 0.0,
    ) -> None:
        processes = max(1, min(processes, readers))
        shares = [readers // processes + (i < readers % processes) for i in range(processes)]
        self.readers = readers
        self.publishes = publishes
        self.specs = [
            ClientSpec(
                port,
                path,
                extra_headers,
                share,
                publishes,
                batch,
                nice,
                head_timeout,
                track_ids,
                auto_resume,
            )
            for share in shares
        ]
        self.conns: list[Connection] = []
        self.pids: list[int] = []
        self.procs: list[multiprocessing.process.BaseProcess] = []

    def __enter__(self) -> ReaderPool:
        ctx = multiprocessing.get_context("fork")
        for spec in self.specs:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_client_main, args=(spec, child), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)
            assert proc.pid is not None
            self.pids.append(proc.pid)
        return self

    def __exit__(self, *exc: object) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.send(("quit", None))
        deadline = time.monotonic() + 10
        for proc in self.procs:
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(2)
        for conn in self.conns:
            conn.close()

    def _replies(self, timeout: float) -> list[Any]:
        deadline = time.monotonic() + timeout
        replies = []
        for conn in self.conns:
            if not conn.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError("a client process did not answer in time")
            replies.append(conn.recv())
        return replies

    def connect(self, timeout: float) -> ClientCounts:
        """Open every reader (in batches per process) and wait for all response heads."""
        for conn in self.conns:
            conn.send(("connect", None))
        return _merge(self._replies(timeout))

    def close_readers(self, timeout: float = 30.0) -> int:
        """Every process closes all its readers' sockets at once (needs track_ids to reopen
        them where they left off). Returns the earliest close time (ns, CLOCK_REALTIME)."""
        for conn in self.conns:
            conn.send(("close", None))
        return int(min(self._replies(timeout)))

    def reopen(self, batch: int, timeout: float) -> list[dict[str, Any]]:
        """Every process reopens all its readers at once with `Last-Event-ID`; one report per
        process (see `Client.reopen_all`)."""
        for conn in self.conns:
            conn.send(("reopen", batch))
        return self._replies(timeout)

    def collect(self, wait: float) -> Collected:
        """Wait up to `wait` s for every reader to hold every entry, then gather timestamps."""
        for conn in self.conns:
            conn.send(("collect", wait))
        counts = []
        times = array("q")
        deadline = time.monotonic() + wait + 60
        for conn in self.conns:
            if not conn.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError("a client process did not report its readers in time")
            counts.append(conn.recv())
            chunk = array("q")
            chunk.frombytes(conn.recv_bytes())
            times.extend(chunk)
        return Collected(self.readers, self.publishes, times, _merge(counts))
