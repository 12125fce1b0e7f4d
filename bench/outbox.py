"""The outbox (usecases/outbox.py, outbound/relay.py): what it costs a write, how soon a
retraction is purged, and how fast the relay drains a backlog.

In one process on SQLite (a temporary file, synchronous=FULL as in production), with a local
HTTP endpoint standing in for both the CDN's purge API and the webhook receivers:

- publish: the median time of `create_entry` with no destinations, and with two purge targets
  and two webhooks (each publish then also writes 4 outbox rows), interleaved run by run;
- retraction to "gone everywhere": from `retract_entry` returning to both targets' purges
  marked sent, with the relay running as a server runs it;
- backlog: 1,000 webhook deliveries queued while the relay was stopped, then drained; and
  200 edits queued behind a CDN that was down, then the HTTP requests it took once it was back.

    python -m bench.outbox              # 5 runs
    python -m bench.outbox --runs 1     # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    ROOT,
    die_with_parent,
    log,
    median,
    percentile,
    save_results,
    source_state,
    table,
)
from liveblog.broadcast.base import NullHub
from liveblog.domain.models import Role, User
from liveblog.domain.purges import is_prefix
from liveblog.outbound.relay import Relay
from liveblog.outbound.targets import PurgeTarget
from liveblog.service import Liveblog, Version
from liveblog.storage.sql import SqlStore
from liveblog.usecases.outbox import Reach

NAME = "outbox"
BODY = "The ring road is closed between junctions 4 and 7 after the river rose overnight."


class Server(ThreadingHTTPServer):
    # The standard library's listen backlog is 5: a burst of purge requests would see SYNs
    # dropped and retried a second later, which no CDN's API does to its clients.
    request_queue_size = 128
    daemon_threads = True


def serve_endpoint(port_file: str) -> None:
    """The endpoint process: answers every request 204 and `GET /count` with how many others
    it has answered."""
    count = 0

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a CDN's API or a receiver offers

        def _any(self) -> None:
            nonlocal count
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            body = b""
            if self.path == "/count":
                body = str(count).encode()
            else:
                count += 1
            self.send_response(200 if body else 204)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PURGE = _any

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = Server(("127.0.0.1", 0), Handler)
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


class Endpoint:
    """The CDN's purge API and the webhook receivers: a separate process, so its threads do not
    compete with the relay for this process's interpreter lock."""

    def __init__(self, directory: Path) -> None:
        port_file = directory / "endpoint.port"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.outbox", "--endpoint", str(port_file)],
            cwd=ROOT,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + 10
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline:
                raise RuntimeError("the endpoint did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port_file.read_text()}"

    @property
    def count(self) -> int:
        return int(httpx.get(self.url + "/count").text)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def service(directory: Path, destinations: bool) -> tuple[Liveblog, User]:
    store = SqlStore(f"sqlite:///{directory / 'bench.sqlite3'}")
    store.migrate()
    targets = ("edge", "shield") if destinations else ()
    svc = Liveblog(store, NullHub(), reach=Reach(targets, "https://live.example"))
    svc.allow_private_targets = True
    user = svc.create_user("bench", Role.EDITOR, "bench-password")
    svc.create_blog(user, slug="storm", title="Storm")
    return svc, user


def add_hooks(svc: Liveblog, user: User, endpoint: Endpoint, n: int) -> None:
    events = ["entry-published", "entry-updated", "entry-retracted", "blog-ended"]
    for i in range(n):
        svc.add_webhook(user, "storm", f"{endpoint.url}/hook/{i}", events, None)


@contextmanager
def relay_running(svc: Liveblog, endpoint: Endpoint) -> Iterator[Relay]:
    targets = [
        PurgeTarget(name=name, url=endpoint.url + "{path}", method="PURGE")
        for name in svc.door.reach.purge_targets
    ]
    relay = Relay(svc, targets, "https://live.example", "bench", allow_private=True)
    svc.door.reach.on_enqueue(relay.wake)
    loop = asyncio.new_event_loop()
    task = loop.create_task(relay.run())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield relay
    finally:
        loop.call_soon_threadsafe(task.cancel)
        time.sleep(0.05)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def publish_ms(svc: Liveblog, user: User, n: int) -> list[float]:
    times = []
    for i in range(n):
        started = time.perf_counter()
        svc.create_entry(user, "storm", body=f"{BODY} ({i})")
        times.append((time.perf_counter() - started) * 1000)
    return times


def pending(svc: Liveblog) -> int:
    with svc.store.read() as tx:
        return len(tx.pending_outbox(10_000))


def wait_drained(svc: Liveblog, timeout: float = 120) -> float:
    started = time.perf_counter()
    while pending(svc):
        if time.perf_counter() - started > timeout:
            raise RuntimeError("the outbox did not drain")
        time.sleep(0.002)
    return time.perf_counter() - started


def run_once(publishes: int, retractions: int, endpoint: Endpoint) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for destinations in (False, True):
        with tempfile.TemporaryDirectory() as d:
            svc, user = service(Path(d), destinations)
            if destinations:
                add_hooks(svc, user, endpoint, 2)
            publish_ms(svc, user, 20)  # warm-up
            result[f"publish_{destinations}"] = publish_ms(svc, user, publishes)
    with tempfile.TemporaryDirectory() as d:
        svc, user = service(Path(d), True)
        entries = [
            svc.create_entry(user, "storm", body=f"{BODY} ({i})") for i in range(retractions)
        ]
        gone = []
        with relay_running(svc, endpoint):
            wait_drained(svc)
            for entry in entries:
                svc.retract_entry(user, "storm", entry.id)
                started = time.perf_counter()
                wait_drained(svc)
                gone.append((time.perf_counter() - started) * 1000)
            with svc.store.read() as tx:
                last = tx.outbox_items(1, 1)[0]
        result["gone_ms"] = gone
        result["paths_per_purge"] = sum(1 for p in json.loads(last.payload) if not is_prefix(p))
    with tempfile.TemporaryDirectory() as d:
        svc, user = service(Path(d), False)
        add_hooks(svc, user, endpoint, 1)
        for i in range(1000):
            svc.create_entry(user, "storm", body=f"{BODY} ({i})")
        with relay_running(svc, endpoint):
            result["drain_1000_s"] = wait_drained(svc)
    with tempfile.TemporaryDirectory() as d:
        svc, user = service(Path(d), True)
        entry = svc.create_entry(user, "storm", body=BODY)
        for i in range(200):
            change = {"body": f"{BODY} (edit {i})"}
            svc.edit_entry(user, "storm", entry.id, change, Version(i + 1, from_header=False))
        with svc.store.read() as tx:
            queued = tx.pending_outbox(10_000)
        result["unmerged_requests"] = sum(
            1 for item in queued for path in json.loads(item.payload) if not is_prefix(path)
        )
        before = endpoint.count
        with relay_running(svc, endpoint):
            wait_drained(svc)
        result["burst_requests"] = endpoint.count - before
        result["burst_items"] = 2 * 202  # create blog, publish, 200 edits; two targets
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--publishes", type=int, default=300)
    parser.add_argument("--retractions", type=int, default=50)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.endpoint:
        serve_endpoint(args.endpoint)
        return
    runs = []
    with tempfile.TemporaryDirectory() as d:
        endpoint = Endpoint(Path(d))
        try:
            for n in range(args.runs):
                log(f"run {n + 1}/{args.runs}")
                runs.append(run_once(args.publishes, args.retractions, endpoint))
        finally:
            endpoint.close()
    plain = [median(r["publish_False"]) for r in runs]
    loaded = [median(r["publish_True"]) for r in runs]
    ratios = [b / a for a, b in zip(plain, loaded, strict=True)]
    gone = sorted(v for r in runs for v in r["gone_ms"])
    drains = [r["drain_1000_s"] for r in runs]
    tables = [
        table(
            "A publish's cost (median of each run's median, ms; SQLite, synchronous=FULL)",
            ["destinations", "publish ms", "ratio"],
            [
                ["none", f"{median(plain):.2f}", "1.00\u00d7"],
                [
                    "2 purge targets + 2 webhooks",
                    f"{median(loaded):.2f}",
                    f"{median(ratios):.2f}\u00d7",
                ],
            ],
            [
                f"{args.runs} runs \u00d7 {args.publishes} publishes each; the ratio is the "
                "median of per-run ratios (both variants measured back to back in each run).",
                "With destinations a publish writes 4 outbox rows in its own transaction and reads "
                "the blog's webhooks.",
            ],
        ),
        table(
            "From a retraction's commit to both purge targets confirming (ms)",
            ["retractions", "median", "p95", "max"],
            [
                [
                    f"{len(gone):,}",
                    f"{median(gone):.1f}",
                    f"{percentile(gone, 95):.1f}",
                    f"{gone[-1]:.1f}",
                ]
            ],
            [
                f"Each purge is {runs[0]['paths_per_purge']} HTTP requests per target (every "
                "path the change made stale), to a local endpoint in its own process; the relay "
                "is woken by the commit, not by its poll.",
            ],
        ),
        table(
            "Draining a backlog",
            ["what", "result"],
            [
                [
                    "1,000 webhook deliveries (one lane, in order)",
                    f"{median(drains):.2f} s, {1000 / median(drains):,.0f} deliveries/s",
                ],
                [
                    "200 edits queued while the CDN was down, two targets",
                    f"{runs[0]['burst_items']} items sent as "
                    f"{median([r['burst_requests'] for r in runs]):,.0f} HTTP requests "
                    f"({runs[0]['unmerged_requests']:,} unmerged)",
                ],
            ],
            ["Consecutive purges of a lane are merged: a purge is idempotent."],
        ),
    ]
    for t in tables:
        print(t["caption"])
        for row in t["rows"]:
            print("  ", " | ".join(str(c) for c in row))
    tables[-1]["notes"].append(source_state())
    save_results(NAME, tables)


if __name__ == "__main__":
    main()
