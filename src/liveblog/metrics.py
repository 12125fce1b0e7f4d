"""Prometheus metrics of one node, and their text exposition.

A leaf: it imports nothing of ours, so every layer may count things here. The fan-out path
touches these once per event or once per connect/disconnect, never once per reader per event.

Several worker processes on one port (`liveblog serve --workers N`): set
`PROMETHEUS_MULTIPROC_DIR` to an empty, writable directory *before* the processes start
(prometheus_client picks its storage when the first metric is created, at import), and
`/metrics` answers from any worker with the sum over all of them.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# The `_created` timestamp series double the output and no dashboard of ours reads them.
disable_created_metrics()

# From a sub-millisecond fan-out to a few readers up to seconds for ten thousand on a busy loop.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

STREAM_READERS = Gauge(
    "liveblog_stream_readers",
    "Readers connected to a live stream on this node.",
    # Workers that exited drop out of the sum (see mark_process_dead).
    multiprocess_mode="livesum",
)
EVENTS_COMMITTED = Counter(
    "liveblog_events_committed",
    "Events appended to a blog's log by writes made on this node.",
)
EVENTS_FANNED_OUT = Counter(
    "liveblog_events_fanned_out",
    "Events whose frame this node wrote to all of its readers of the blog.",
)
FANOUT_SECONDS = Histogram(
    "liveblog_fanout_seconds",
    "From the hub receiving an event to the frame handed to the last reader's transport.",
    buckets=LATENCY_BUCKETS,
)
PUBLISH_SECONDS = Histogram(
    "liveblog_publish_seconds",
    "Duration of a successful write (entry created, edited, retracted; blog updated), "
    "from checks to commit and hand-off to the hub.",
    buckets=LATENCY_BUCKETS,
)
READERS_DROPPED = Counter(
    "liveblog_readers_dropped",
    "Readers cut off for falling behind: too much unsent data (buffer) or a socket that "
    "stopped draining (stall). They reconnect with Last-Event-ID.",
    ["reason"],
)
OUTBOX_SENT = Counter(
    "liveblog_outbox_sent",
    "Outbox items (CDN purges, webhook deliveries) this node's relay sent.",
    ["kind"],
)
OUTBOX_FAILURES = Counter(
    "liveblog_outbox_failures",
    "Failed attempts to send an outbox item (each is retried with backoff).",
    ["kind"],
)
# Bound once: `labels()` is a dictionary lookup under a lock we need not pay when dropping.
DROPPED_BUFFER = READERS_DROPPED.labels(reason="buffer")
DROPPED_STALL = READERS_DROPPED.labels(reason="stall")

P = ParamSpec("P")
R = TypeVar("R")


def timed_write(method: Callable[P, R]) -> Callable[P, R]:
    """Observe a write's duration in PUBLISH_SECONDS; refused writes (errors) are not counted,
    so a burst of 403s cannot make publishing look fast."""

    @functools.wraps(method)
    def timed(*args: P.args, **kwargs: P.kwargs) -> R:
        start = time.perf_counter()
        result = method(*args, **kwargs)
        PUBLISH_SECONDS.observe(time.perf_counter() - start)
        return result

    return timed


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def exposition() -> bytes:
    """The text exposition: this process's registry, or the sum over every worker's files."""
    if multiprocess_dir() is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)


def mark_process_dead(pid: int) -> None:
    """For the supervisor when a worker exits: its readers leave the live gauge's sum."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(pid)
