"""The cross-node bridge on PostgreSQL: LISTEN for "blog B reached seq N".

Every write transaction on PostgreSQL sends `NOTIFY liveblog_events, 'B:N'` (storage/sql.py),
which the server delivers to every listening connection when the transaction commits, and never
if it rolls back. Each node keeps one listening connection on a thread of its own and hands each
signal to its hub, which reads the events it has not fanned out from the log. The signal carries
no event data, so a lost, duplicated or reordered signal costs at most one extra log read: after
the connection drops (database restart, network blip) the node reconnects and rereads the log of
every open blog, and it does the same every `resync_seconds` as a safety net.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import TYPE_CHECKING, Protocol

from liveblog.domain.events import SIGNAL_CHANNEL, parse_signal

if TYPE_CHECKING:
    # The driver is an extra (liveblog[postgres]): imported where a bridge connects, so that a
    # plain install serving SQLite never needs it.
    import psycopg

log = logging.getLogger(__name__)

WAIT_SECONDS = 0.5
APPLICATION_NAME = "liveblog-bridge"  # how operators (and tests) find it in pg_stat_activity


class SignalledHub(Protocol):
    def signal(self, blog_id: int, seq: int) -> None: ...

    def resync(self) -> None: ...


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL with its driver name dropped, as libpq wants it."""
    scheme, sep, rest = url.partition("://")
    return "postgresql" + sep + rest if scheme.startswith("postgresql") else url


class PgBridge:
    def __init__(
        self,
        url: str,
        hub: SignalledHub,
        *,
        resync_seconds: float = 5.0,
        retry_seconds: float = 1.0,
    ) -> None:
        self.url = libpq_url(url)
        self.hub = hub
        self.resync_seconds = resync_seconds
        self.retry_seconds = retry_seconds
        self.listening = threading.Event()
        """Set while a LISTEN connection is up (the health of the bridge)."""
        self._stopping = threading.Event()
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pg-bridge", daemon=True)
        self._thread.start()

    def wait_listening(self, timeout: float) -> bool:
        return self.listening.wait(timeout)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except Exception as exc:  # any failure means: reconnect
                if self._stopping.is_set():
                    break
                log.warning("bridge: lost the LISTEN connection (%s); reconnecting", exc)
            finally:
                self.listening.clear()
                self._close()
            self._stopping.wait(self.retry_seconds)

    def _listen(self) -> None:
        import psycopg

        conn = psycopg.connect(
            self.url,
            autocommit=True,
            connect_timeout=5,
            application_name=APPLICATION_NAME,
            # A connection cut without a reset (NAT timeout, failover) would otherwise look
            # idle for hours: TCP keep-alives and a send timeout turn it into an error.
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
            tcp_user_timeout=30_000,
        )
        self._conn = conn
        conn.execute(f"LISTEN {SIGNAL_CHANNEL}")
        self.listening.set()
        # Whatever was committed while we were not listening is in the log.
        self.hub.resync()
        next_resync = time.monotonic() + self.resync_seconds
        while not self._stopping.is_set():
            # Short waits, so a stopping node notices within WAIT_SECONDS.
            for note in conn.notifies(timeout=WAIT_SECONDS):
                parsed = parse_signal(note.payload)
                if parsed is not None:
                    self.hub.signal(*parsed)
            if time.monotonic() >= next_resync:
                conn.execute("SELECT 1")  # fails here if the connection has silently died
                self.hub.resync()
                next_resync = time.monotonic() + self.resync_seconds

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # it is going away either way
                conn.close()
