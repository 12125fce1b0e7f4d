"""The edge: what one client can hold of the server, bounded before it reaches the app.

A probe of an unbounded build showed one client holding 20,000 slow connections exhausting the
file descriptors, after which everyone, `/healthz` included, was refused. The limits here are
enforced by the server's protocol (web/guard.py, or web/front.py; every connection is parsed by
it, whichever path then answers) through `HeadWatch`, and for streams by both stream writers:

- a request head must arrive within `head_timeout` seconds (408, then close);
- a head is at most `max_head_bytes` (431);
- one address may hold `slow_heads_per_address` connections whose head is still unfinished
  after `slow_head_seconds` (408 for the next one). A head that arrives promptly never counts,
  so a storm of readers reconnecting at once from one address is not touched however big;
- one address may hold `streams_per_address` open streams (0, the default: no cap; 429);
- the last `fd_reserve` file descriptors go only to addresses holding few connections, so
  another reader, and the load balancer asking `/healthz`, still get in (503 for the rest).

Addresses are the TCP peer's; for streams, a request from one of LIVEBLOG_TRUSTED_PROXIES is
counted by its `X-Forwarded-For` client (heads are counted by peer: a proxy sends whole heads).
The bookkeeping happens when a connection opens, finishes its head or closes, never per event.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from liveblog.settings import Network, Settings
from liveblog.web.headers import Header, json_error
from liveblog.web.proxies import client_address

log = logging.getLogger(__name__)
EDGE_KEY = "liveblog.edge"
LOG_EVERY = 10.0  # seconds between log lines about the same limit
RETRY_AFTER = 5


@dataclass(frozen=True, slots=True)
class Limits:
    head_timeout: float = 20.0
    max_head_bytes: int = 32 * 1024
    slow_heads_per_address: int = 1000
    slow_head_seconds: float = 2.0
    streams_per_address: int = 0
    fd_reserve: int = 1000

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            head_timeout=settings.head_timeout_seconds,
            max_head_bytes=settings.max_head_bytes,
            slow_heads_per_address=settings.slow_heads_per_address,
            slow_head_seconds=settings.slow_head_seconds,
            streams_per_address=settings.streams_per_address,
            fd_reserve=settings.fd_reserve,
        )


class Edge:
    """Counts per address, shared by every connection of one server process."""

    def __init__(self, limits: Limits, networks: list[Network] | None = None) -> None:
        self.limits = limits
        self.networks = networks or []
        self.connections: dict[str, int] = {}  # open connections per peer address
        self.slow: dict[str, int] = {}
        self.streams: dict[str, int] = {}
        self.total = 0
        self.lean_streams = 0  # streams handed to the lean path (proof the seam is taken)
        self.refused: dict[str, int] = {}  # per limit, since start
        self._logged: dict[str, tuple[float, int]] = {}  # limit: (last line, refused then)
        self.fd_limit = 0  # the open-files limit, read at the first connection
        self._others = 0  # descriptors that are not client connections (files, database)
        self._measured_at = -1.0

    # --- connections and the descriptor reserve ---------------------------------------------

    def connected(self, peer: str) -> bool:
        """Count a new connection; False when it must be refused to keep the reserve."""
        self.total += 1
        held = self.connections.get(peer, 0) + 1
        self.connections[peer] = held
        reserve = self._reserve()
        if reserve and held > max(1, reserve // 10) and self._in_reserve(reserve):
            self.hit("fd_reserve", peer, f"{held} connections open from it")
            return False
        return True

    def disconnected(self, peer: str) -> None:
        self.total -= 1
        _decrement(self.connections, peer)

    def _reserve(self) -> int:
        if not self.fd_limit:
            self.fd_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        return min(self.limits.fd_reserve, self.fd_limit // 4)

    def _in_reserve(self, reserve: int) -> bool:
        free = self.fd_limit - self.total - self._others
        if free > 2 * reserve and self._measured_at >= 0:
            return False  # far from the limit by the last count: no need to look
        now = time.monotonic()
        if self._measured_at < 0 or now - self._measured_at >= 1.0:
            # The real count, at most once a second and only near the limit.
            self._others = max(0, _open_descriptors(self.total) - self.total)
            self._measured_at = now
            free = self.fd_limit - self.total - self._others
        return free <= reserve

    # --- slow heads ---------------------------------------------------------------------------

    def slow_began(self, peer: str) -> bool:
        held = self.slow.get(peer, 0) + 1
        self.slow[peer] = held
        return held <= self.limits.slow_heads_per_address

    def slow_ended(self, peer: str) -> None:
        _decrement(self.slow, peer)

    # --- streams ------------------------------------------------------------------------------

    def opened(self, address: str) -> bool:
        """A stream from `address` starts; False (and not counted) when it holds the cap."""
        cap = self.limits.streams_per_address
        if not cap:
            return True
        held = self.streams.get(address, 0)
        if held >= cap:
            self.hit("streams_per_address", address, f"{held} streams open")
            return False
        self.streams[address] = held + 1
        return True

    def closed(self, address: str) -> None:
        if self.limits.streams_per_address:
            _decrement(self.streams, address)

    def client_of(self, peer: str, headers: list[tuple[bytes, bytes]]) -> str:
        return client_address(peer, headers, self.networks)

    # --- telling the operator -----------------------------------------------------------------

    def hit(self, limit: str, address: str, detail: str) -> None:
        """Count a refusal and log it: the first at once, then one line per LOG_EVERY seconds
        with the number refused meanwhile (a flood must not flood the log)."""
        count = self.refused.get(limit, 0) + 1
        self.refused[limit] = count
        now = time.monotonic()
        last, count_then = self._logged.get(limit, (-LOG_EVERY, 0))
        if now - last < LOG_EVERY:
            return
        self._logged[limit] = (now, count)
        since = count - count_then - 1
        more = f" ({since} more refused by it in the last {LOG_EVERY:.0f} s)" if since else ""
        log.warning("edge limit %s: refused %s, %s%s", limit, address, detail, more)


def _decrement(counts: dict[str, int], key: str) -> None:
    held = counts.get(key, 0) - 1
    if held > 0:
        counts[key] = held
    else:
        counts.pop(key, None)


def _open_descriptors(fallback: int) -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return fallback + 64  # no /proc: assume a few files besides the connections


_DEFAULT: list[Edge] = []


def edge_of(app_state: dict[str, Any]) -> Edge:
    """The app's edge from the lifespan state; for an app without one, one per process."""
    edge: Edge | None = app_state.get(EDGE_KEY)
    if edge is None:
        if not _DEFAULT:
            _DEFAULT.append(Edge(Limits()))
        edge = _DEFAULT[0]
    return edge


class Refused(Exception):
    """Raised inside a parser callback to stop parsing a request the edge has answered."""


class HeadWatch:
    """One connection's request heads under the edge's limits: the clock of the head being
    read, whether it counts as slow, and its size. `refuse(status, message)` is the
    protocol's way of answering and closing."""

    __slots__ = ("edge", "loop", "peer", "raw", "reading", "refuse", "slow", "timer")

    def __init__(
        self, edge: Edge, loop: asyncio.AbstractEventLoop, refuse: Callable[[int, str], None]
    ) -> None:
        self.edge = edge
        self.loop = loop
        self.refuse = refuse
        self.peer = ""
        self.reading = False
        self.raw = 0  # bytes received while the head is unfinished
        self.timer: asyncio.TimerHandle | None = None
        self.slow = False

    def begin(self) -> None:
        """A head starts: when the connection opens, and at a later request's first byte."""
        if self.reading:
            return
        self.reading = True
        self.raw = 0
        limits = self.edge.limits
        first = min(limits.slow_head_seconds, limits.head_timeout)
        self.timer = self.loop.call_later(first, self._late)

    def received(self, size: int) -> None:
        if self.reading:
            self.raw += size

    def too_long(self) -> bool:
        """Whether the head, still unfinished, is past the size limit: checked after each read
        is parsed, so what the parser holds is bounded by the limit plus one read."""
        return self.reading and self.raw > self.edge.limits.max_head_bytes

    def done(self, size: int) -> bool:
        """The head is complete (`size`: request line and headers); False if too large."""
        self.stop()
        return size <= self.edge.limits.max_head_bytes

    def too_large(self) -> None:
        limit = self.edge.limits.max_head_bytes
        self.refuse(431, f"the request head is over {limit} bytes")
        self.edge.hit("max_head_bytes", self.peer, f"a request head over {limit} bytes")

    def stop(self) -> None:
        self.reading = False
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.slow:
            self.slow = False
            self.edge.slow_ended(self.peer)

    def _late(self) -> None:
        self.timer = None
        if not self.reading:
            return
        limits, edge = self.edge.limits, self.edge
        if not self.slow and limits.slow_head_seconds < limits.head_timeout:
            self.slow = True
            if not edge.slow_began(self.peer):
                detail = f"{edge.slow.get(self.peer, 0) - 1} slow heads already open from it"
                self.refuse(408, "the request head came too slowly")
                edge.hit("slow_heads_per_address", self.peer, detail)
                return
            later = limits.head_timeout - limits.slow_head_seconds
            self.timer = self.loop.call_later(later, self._late)
            return
        self.refuse(408, "the request head did not arrive in time")
        edge.hit("head_timeout", self.peer, f"no complete head in {limits.head_timeout} s")


def refusal(status: int, message: str, defaults: Sequence[Header]) -> bytes:
    """The whole response of an edge refusal, for a protocol to write before it closes."""
    body = json.dumps({"error": message, "status": status}).encode()
    return json_error(status, body, defaults, _retry(status))


def _retry(status: int) -> list[Header]:
    return [(b"retry-after", b"%d" % RETRY_AFTER)] if status in (429, 503) else []


class Released(asyncio.Protocol):
    """Stands between a handed-over connection's transport and its new protocol, passing every
    callback on, so the edge hears when the socket closes (the fan-out writes to the transport
    directly and never comes through here)."""

    __slots__ = ("inner", "on_lost")

    def __init__(self, inner: asyncio.Protocol, on_lost: Callable[[], None]) -> None:
        self.inner = inner
        self.on_lost = on_lost

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            self.inner.connection_lost(exc)
        finally:
            self.on_lost()


class CountedStreams:
    """The stream cap around the ASGI stream endpoint (the client address is the one
    web/proxies.py established)."""

    def __init__(self, app: ASGIApp, edge: Edge) -> None:
        self.app = app
        self.edge = edge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        address = client[0] if client else ""
        if not self.edge.opened(address):
            await _refuse_asgi(send, 429, "too many streams open from your address")
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.edge.closed(address)


async def _refuse_asgi(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message, "status": status}).encode()
    own = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    own += [*_retry(status), (b"connection", b"close")]  # closed, as the lean path does
    # Inside SecurityHeaders, which adds the common headers; only the view's own here.
    await send({"type": "http.response.start", "status": status, "headers": own})
    await send({"type": "http.response.body", "body": body})
