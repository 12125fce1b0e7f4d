"""The catch-up benchmark's restart variant: every reader of a node reconnects to its new process.

    python -m bench.catchup --runs 0 --log-gap 0 --restart-readers 10000

One `liveblog serve`, N readers (10,000) on one blog, no reader left behind: entries at 2/s for
4 s with everyone connected; then every reader's socket closes and the server restarts (SIGTERM,
a new process on the same data); `--restart-gap` entries (20) are published to the new process
before anyone is back, so its hub has none of them in memory; then all N readers reconnect at
the same instant with `Last-Event-ID`, and entries go on at 2/s for `--after` seconds. Every
reader must end with every entry exactly once, in order, over both of its connections; the
missed entries come from the log, read and encoded once per page for all N.
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import LiveblogServer, cpu_seconds, entry_json, log, rss_kib, table
from bench.readers import ReaderPool

VARIANT = "restart"


def run_restart(result: Any, args: argparse.Namespace, blog_seq: Any, analyse: Any) -> None:
    """Fills `result` (a catchup.RunResult); `blog_seq` and `analyse` are catchup's helpers."""
    readers = args.restart_readers
    before = round(4 * args.rate)
    gap = args.restart_gap
    after = max(1, round(args.after * args.rate))
    publishes = before + gap + after
    result.publishes = publishes
    sent = [0] * publishes
    posts: list[float] = []
    workdir = Path(tempfile.mkdtemp(prefix="liveblog-bench-"))
    server = LiveblogServer(workdir)

    def publish(i: int) -> None:
        response = server.publish(entry_json(i + 1))
        sent[i] = response.sent_ns
        posts.append(response.latency_ms)
        if response.status != 201:
            result.post_errors += 1

    try:
        server.start()
        for _ in range(3):
            server.publish(entry_json(None))  # warm the publish path (no marker)
        with ReaderPool(
            port=server.port,
            path=server.stream_path,
            extra_headers=server.stream_headers,
            readers=readers,
            processes=max(1, math.ceil(readers / 2500)),
            publishes=publishes,
            nice=args.client_nice,
            batch=args.batch,
            track_ids=True,
            auto_resume=args.resume_after,
        ) as pool:
            counts = pool.connect(args.connect_timeout)
            result.connected = counts.connected
            if counts.connected < readers:
                raise RuntimeError(f"only {counts.connected} of {readers} connected")
            for i in range(before):
                publish(i)
                time.sleep(1 / args.rate)
            time.sleep(1.0)
            pool.close_readers()
            restarted = time.monotonic()
            server.stop()
            server.setup = False  # the same data directory, editor and blog
            server.start()
            log(f"  restarted in {time.monotonic() - restarted:.1f} s")
            for i in range(before, before + gap):
                publish(i)
            seq_at_reopen = blog_seq(server)
            pids = server.pids()

            def go_on() -> None:
                time.sleep(0.2)
                for i in range(before + gap, publishes):
                    publish(i)
                    time.sleep(1 / args.rate)

            later = threading.Thread(target=go_on, daemon=True)
            cpu0 = cpu_seconds(pids)
            later.start()
            reports = pool.reopen(0, args.connect_timeout)
            result.storm_cpu_us_per_reader = (cpu_seconds(pids) - cpu0) * 1e6 / readers
            later.join(after / args.rate + 60)
            result.rss_mib = rss_kib(server.memory_pid) / 1024
            got = pool.collect(args.collect_wait)
            result.catchup_cpu_ms_per_reader = (cpu_seconds(pids) - cpu0) * 1e3 / readers
        posts.sort()
        result.post_p99_ms = posts[min(len(posts) - 1, round(0.99 * len(posts)))]
        analyse(got, reports, sent, seq_at_reopen, result)
    finally:
        server.stop()
        if not args.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def summary_row(runs: list[Any], fmt: Any, faults: Any) -> list[str]:
    r = runs[-1]
    return [
        f"reconnect after a restart ({r.deploy:,} readers)",
        f"{sum(1 for x in runs if x.usable)}/{len(runs)}",
        f"{r.deploy:,}",
        f"{r.complete:,} of {r.deploy:,}",
        faults([r]),
        str(r.server_closes),
        str(r.reconnect_failures),
        f"{r.behind_min:,}" + (f" to {r.behind_max:,}" if r.behind_max != r.behind_min else ""),
        fmt(r.heads_ms_p50),
        fmt(r.heads_ms_p99),
        fmt(r.storm_heads_ms),
        fmt(r.storm_caught_up_ms),
        fmt(r.storm_cpu_us_per_reader, 0),
        fmt(r.catchup_cpu_ms_per_reader, 2),
        fmt(r.rss_mib, 0),
        r.error,
    ]


def restart_table(runs: list[Any], args: argparse.Namespace, fmt: Any, faults: Any) -> Any:
    notes = [
        f"One `liveblog serve`; {args.restart_readers:,} readers (one client process per 2,500) "
        f"on one blog get entries at {args.rate:g}/s for 4 s; then every reader's socket closes, "
        f"the server restarts (SIGTERM, a new process on the same data), {args.restart_gap} "
        "entries are published to the new process before anyone is back (so its hub has "
        "none of them in memory: the replay comes from the log), and all readers reconnect "
        "at the same instant with `Last-Event-ID`, while entries go on at "
        f"{args.rate:g}/s for {args.after:g} s.",
        "complete: readers holding every entry exactly once and in order over both of their "
        "connections (faults: lost / duplicated / out of order); server closes: readers the "
        f"server closed after the reconnect (they came back {args.resume_after:g} s later); "
        "reconnect failures: reconnects that got no response head. Times from the first "
        "reconnect to the kernel receive time of a reader's new response head, and to the "
        "last missed entry at the last reader. CPU: the new server process's, during the "
        "reconnect call per reader, and until every reader held every entry per reader.",
    ]
    return table(
        "Catch-up: every reader reconnects after a restart",
        [
            "variant",
            "runs",
            "readers",
            "complete",
            "faults",
            "server closes",
            "reconnect failures",
            "frames behind",
            "head p50 (ms)",
            "head p99 (ms)",
            "to last head (ms)",
            "to caught up (ms)",
            "server CPU per reconnect (µs)",
            "server CPU to caught up, per reader (ms)",
            "server RSS (MiB)",
            "error",
        ],
        [summary_row(runs, fmt, faults)],
        notes,
    )
