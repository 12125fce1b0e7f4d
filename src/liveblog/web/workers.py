"""`liveblog serve --workers N`: N server processes on one port, so every core serves readers.

Each worker binds its own listening socket with SO_REUSEPORT, and the kernel spreads new
connections evenly over them (one shared socket would wake every worker for each connection and
leave the spread to chance). Workers share nothing but the PostgreSQL database: an entry
published through one reaches the readers of the others over the LISTEN/NOTIFY bridge, exactly
as between machines. SQLite allows one writing process, so it is refused here.

The supervisor migrates once, starts the workers, restarts one that dies, and on SIGTERM or
SIGINT passes SIGTERM on (each worker tells its readers to reconnect, then exits).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections import deque
from multiprocessing.process import BaseProcess
from types import FrameType

from liveblog.domain.errors import LiveblogError
from liveblog.logs import configure_logging
from liveblog.metrics import mark_process_dead
from liveblog.settings import Settings
from liveblog.storage.sql import SqlStore

log = logging.getLogger("liveblog.workers")

STOP_TIMEOUT = 10.0
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# When every worker has died this often, they are failing to start (a bad setting), not
# crashing now and then: restarting them forever would only hide the error.
CRASH_LOOP_DEATHS = 5
CRASH_LOOP_SECONDS = 30.0


def check_workers(settings: Settings, count: int) -> None:
    if count < 1:
        raise LiveblogError("--workers must be at least 1")
    if count > 1 and not settings.resolved_database_url().startswith("postgresql"):
        raise LiveblogError(
            "--workers needs PostgreSQL (LIVEBLOG_DATABASE_URL=postgresql://…): SQLite allows one "
            "writing process, so with SQLite run one process (drop --workers)"
        )


def reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def worker_main(settings: Settings, log_level: str, supervisor: int) -> None:
    """One worker process (started by `multiprocessing` with spawn: nothing inherited)."""
    from liveblog.web.app import create_app
    from liveblog.web.server import serve

    _exit_with(supervisor)
    sock = reuse_port_socket(settings.host, settings.port)
    serve(create_app(settings), settings.host, settings.port, log_level, sock=sock)


class Supervisor:
    def __init__(self, settings: Settings, count: int, log_level: str) -> None:
        self.settings = settings
        self.count = count
        self.log_level = log_level
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[BaseProcess] = []
        self.stopping = threading.Event()
        self.dead: set[int | None] = set()

    def run(self) -> int:
        configure_logging(self.settings.log_format, self.log_level)
        check_workers(self.settings, self.count)
        _check_port_free(self.settings.host, self.settings.port)
        store = SqlStore(self.settings.resolved_database_url())
        store.migrate()  # once, here, rather than N workers racing to do it
        store.close()
        # Metrics from all workers are summed from files in one directory (prometheus_client's
        # multiprocess mode); spawned workers inherit the variable. A directory of our own
        # starts empty and goes at exit; one the operator names is theirs to clear.
        own_metrics_dir = None
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            own_metrics_dir = tempfile.mkdtemp(prefix="liveblog-metrics-")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = own_metrics_dir
        try:
            return self._supervise()
        finally:
            if own_metrics_dir is not None:
                shutil.rmtree(own_metrics_dir, ignore_errors=True)

    def _supervise(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.workers = [self._start() for _ in range(self.count)]
        log.info("started %d workers on %s:%d", self.count, self.settings.host, self.settings.port)
        status = 0
        deaths: deque[float] = deque(maxlen=CRASH_LOOP_DEATHS)
        restart_at = 0.0
        while not self.stopping.wait(0.2):
            now = time.monotonic()
            for index, proc in enumerate(self.workers):
                if proc.is_alive() or self.stopping.is_set():
                    continue
                if proc.pid not in self.dead:
                    self.dead.add(proc.pid)
                    _forget_metrics(proc.pid)
                    log.error("worker %s exited with code %s", proc.pid, proc.exitcode)
                    deaths.append(now)
                    # Back off while workers keep dying (the database away for a while, say),
                    # but keep the healthy ones serving.
                    restart_at = now + min(30.0, 0.25 * 2 ** (len(deaths) - 1))
                crash_loop = len(deaths) == deaths.maxlen and now - deaths[0] < CRASH_LOOP_SECONDS
                if crash_loop and not any(p.is_alive() for p in self.workers):
                    log.error("every worker keeps dying at start; stopping")
                    status = 1
                    self.stopping.set()
                elif now >= restart_at:
                    self.workers[index] = self._start()
                    log.info("started worker %s", self.workers[index].pid)
        self._stop_all()
        return status

    def _start(self) -> BaseProcess:
        proc = self.context.Process(
            target=worker_main,
            args=(self.settings, self.log_level, os.getpid()),
            name="liveblog-worker",
        )
        proc.start()
        return proc

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping.set()

    def _stop_all(self) -> None:
        for proc in self.workers:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for proc in self.workers:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                log.warning("worker %s did not stop in time; killing it", proc.pid)
                proc.kill()
                proc.join()
            _forget_metrics(proc.pid)


def _exit_with(supervisor: int) -> None:
    """Have the kernel send this worker SIGTERM when the supervisor dies, even by SIGKILL:
    orphaned workers would go on serving the port with nobody to stop or restart them."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
            raise OSError(ctypes.get_errno(), "prctl failed")
    except (OSError, AttributeError) as exc:
        log.warning("cannot ask to be stopped with the supervisor: %s", exc)
    if os.getppid() != supervisor:  # it died before we asked
        os.kill(os.getpid(), signal.SIGTERM)


def _check_port_free(host: str, port: int) -> None:
    """Fail once, clearly, instead of N workers each failing to bind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise LiveblogError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc


def _forget_metrics(pid: int | None) -> None:
    if pid is not None:
        mark_process_dead(pid)
