"""Fan-out and publish benchmarks: liveblog against nginx+nchan, interleaved in one session.

    python -m bench.fanout fanout [--readers 1000,5000,10000] [--runs N] ...
    python -m bench.fanout publish [--readers 10000] [--publishes 200] [--interval 0.1] ...

fanout: for each reader count and run, each server in turn (liveblog, nchan, liveblog, nchan,
...) is started fresh, N readers connect (head received by all), then entries are published at
1/s. Per publish, "every reader has it" = the latest kernel receive time over all readers minus
the CLOCK_REALTIME taken just before the POST was sent. Server CPU (utime+stime from
/proc/PID/stat over the publish phase) is divided by readers x publishes; the growth of the
server's RSS while the readers connected is divided by the readers.

publish: with N readers connected, entries are POSTed at a steady rate (10/s); POST -> 201 is
measured from the send to the kernel receive time of the response, and every reader must still
get every entry.

Results go to bench/results/<fanout|publish>.json; `python -m bench.report` turns every results
file into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import tempfile
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    RESULTS_DIR,
    LiveblogServer,
    cpu_seconds,
    entry_json,
    log,
    median,
    percentile,
    raise_file_limit,
    rss_kib,
    save_results,
    source_state,
    system_busy_seconds,
    table,
)
from bench.peer import NchanServer, ensure_packages
from bench.readers import ReaderPool

SERVERS = ("liveblog", "nchan", "composition")
"""`composition`: liveblog with LIVEBLOG_HTTP_PROTOCOL=composition (bench/seam.py compares it)."""
DEFAULT_SERVERS = ("liveblog", "nchan")
TIMES = "\N{MULTIPLICATION SIGN}"
ACCEPTED = {"liveblog": (201,), "composition": (201,), "nchan": (201, 202)}
FILLER = (
    "Emergency services say the ring road is closed between junctions 4 and 7 after the river "
    "rose above the flood barrier overnight; ferries are suspended until 18:00. "
)


@dataclass
class RunResult:
    server: str
    readers: int
    run: int
    publishes: int
    interval_s: float
    processes: int
    connected: int = 0
    every_p50_ms: float = math.nan
    every_p99_ms: float = math.nan
    every_max_ms: float = math.nan
    delivery_p50_ms: float = math.nan
    delivery_p99_ms: float = math.nan
    delivery_max_ms: float = math.nan
    cpu_us_per_delivery: float = math.nan
    kib_per_reader: float = math.nan
    connect_s: float = math.nan
    connect_cpu_us_per_reader: float = math.nan
    post_p50_ms: float = math.nan
    post_p99_ms: float = math.nan
    post_max_ms: float = math.nan
    post_errors: int = 0
    lost: int = 0  # (reader, entry) pairs never received by a connected reader
    readers_with_loss: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    disconnects: int = 0
    connect_failures: int = 0
    frame_bytes: int = 0
    read_lag_p99_ms: float = math.nan  # how long frames waited for the client (should be small)
    client_cpu_share: float = math.nan  # client processes' CPU over the publish phase, in cores
    server_cpu_share: float = math.nan
    other_cpu_share: float = math.nan  # everything else on the machine: should be ~0
    error: str = ""
    disturbed: bool = False  # other processes took CPU during the run: rerun, left out

    @property
    def usable(self) -> bool:
        """Whether the run enters the medians."""
        return not self.error and not self.disturbed


def processes_for(readers: int) -> int:
    """A process here may hold 20,000 files: 1 client process for 1k, 2 for 5k, 4 for 10k."""
    return max(1, math.ceil(readers / 2500))


def nchan_body(n: int | None, size: int) -> bytes:
    """A one-line message of `size` bytes carrying the marker (no newline: one data: line)."""
    head = (f"bench-{n} " if n is not None else "warm-up ").encode()
    filler = FILLER.encode() * (size // len(FILLER) + 1)
    return (head + filler)[: max(size, len(head))]


def make_server(kind: str, workdir: Path) -> LiveblogServer | NchanServer:
    if kind == "nchan":
        return NchanServer(workdir)
    if kind == "composition":
        return LiveblogServer(workdir, env={"LIVEBLOG_HTTP_PROTOCOL": "composition"})
    return LiveblogServer(workdir)


def probe_frame(args: argparse.Namespace) -> tuple[int, int]:
    """The size of liveblog's frame for one entry (and of its data), so nchan's message can
    carry as many bytes."""
    workdir = Path(tempfile.mkdtemp(prefix="liveblog-bench-"))
    server = LiveblogServer(workdir)
    try:
        server.start()
        with ReaderPool(
            port=server.port, path=server.stream_path, readers=1, processes=1, publishes=1
        ) as pool:
            pool.connect(30)
            server.publish(entry_json(1))
            counts = pool.collect(10).counts
        return counts.frame_bytes, counts.frame_data_bytes
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def run_one(kind: str, readers: int, run: int, args: argparse.Namespace, size: int) -> RunResult:
    processes = args.processes or processes_for(readers)
    result = RunResult(kind, readers, run, args.publishes, args.interval, processes)
    workdir = Path(tempfile.mkdtemp(prefix="liveblog-bench-"))
    server = make_server(kind, workdir)

    def payload(n: int | None) -> bytes:
        return nchan_body(n, size) if kind == "nchan" else entry_json(n)

    try:
        server.start()
        for _ in range(3):
            # Warm the publish path (nchan on another channel: its readers would get the
            # newest message of theirs when they connect).
            if isinstance(server, NchanServer):
                server.publish(payload(None), channel="warmup")
            else:
                server.publish(payload(None))
        time.sleep(0.5)
        pids = server.pids()
        rss_before = rss_kib(server.memory_pid)
        cpu_before_connect = cpu_seconds(pids)
        with ReaderPool(
            port=server.port,
            path=server.stream_path,
            extra_headers=server.stream_headers,
            readers=readers,
            processes=processes,
            publishes=args.publishes,
            nice=args.client_nice,
            batch=args.batch,
        ) as pool:
            counts = pool.connect(args.connect_timeout)
            result.connected = counts.connected
            result.connect_failures = counts.connect_failures
            result.connect_s = counts.connect_seconds
            if counts.connected < readers:
                result.error = f"only {counts.connected} of {readers} connected: {counts.errors}"
                log(result.error)
            time.sleep(1.0)  # let the server settle (and collect garbage) before measuring
            rss_after = rss_kib(server.memory_pid)
            cpu_start = cpu_seconds(pids)
            client_cpu_start = cpu_seconds(pool.pids)
            own_cpu_start = cpu_seconds([os.getpid()])
            all_cpu_start = system_busy_seconds()
            wall_start = time.monotonic()
            result.kib_per_reader = (rss_after - rss_before) / max(1, counts.connected)
            result.connect_cpu_us_per_reader = (
                (cpu_start - cpu_before_connect) * 1e6 / max(1, counts.connected)
            )
            sent, posts = publish_steadily(server, kind, payload, args, result)
            collected = pool.collect(args.collect_wait)
            cpu_end = cpu_seconds(pids)
            wall = time.monotonic() - wall_start
            client_cpu = cpu_seconds(pool.pids) - client_cpu_start
            own_cpu = cpu_seconds([os.getpid()]) - own_cpu_start
            all_cpu = system_busy_seconds() - all_cpu_start
            result.client_cpu_share = client_cpu / wall
            result.server_cpu_share = (cpu_end - cpu_start) / wall
            result.other_cpu_share = (all_cpu - client_cpu - own_cpu - (cpu_end - cpu_start)) / wall
        deliveries = max(1, collected.counts.connected) * args.publishes
        result.cpu_us_per_delivery = (cpu_end - cpu_start) * 1e6 / deliveries
        c = collected.counts
        result.duplicates, result.out_of_order = c.duplicates, c.out_of_order
        result.disconnects, result.frame_bytes = c.disconnects, c.frame_bytes
        result.read_lag_p99_ms = c.read_lag_percentile(99)
        analyse(collected.times, readers, args.publishes, sent, result)
        posts.sort()
        result.post_p50_ms = percentile(posts, 50)
        result.post_p99_ms = percentile(posts, 99)
        result.post_max_ms = posts[-1] if posts else math.nan
    except Exception as exc:  # a failed run is reported, the session goes on
        result.error = f"{type(exc).__name__}: {exc}"
        log(f"run failed: {result.error}")
    finally:
        server.stop()
        if not args.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


def publish_steadily(
    server: LiveblogServer | NchanServer,
    kind: str,
    payload: Any,
    args: argparse.Namespace,
    result: RunResult,
) -> tuple[list[int], list[float]]:
    """POST entries 1..P every `interval` s (back to back if a POST takes longer)."""
    sent: list[int] = []
    posts: list[float] = []
    next_at = time.monotonic()
    for n in range(1, args.publishes + 1):
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        response = server.publish(payload(n))
        if response.status not in ACCEPTED[kind]:
            result.post_errors += 1
            log(f"publish {n}: {response.status} {response.body[:200]!r}")
        sent.append(response.sent_ns)
        posts.append(response.latency_ms)
        next_at += args.interval
    return sent, posts


def analyse(
    times: array[int], readers: int, publishes: int, sent: list[int], out: RunResult
) -> None:
    """Per publish: the last reader's receive time; per delivery: every (reader, entry) pair."""
    latest = [0] * publishes
    delays = array("q")
    lost = readers_with_loss = 0
    for r in range(readers):
        row = times[r * publishes : (r + 1) * publishes]
        if row[0] < 0:
            continue  # never connected (counted as a connect failure)
        missing = 0
        for i, ts in enumerate(row):
            if ts == 0:
                missing += 1
                continue
            delays.append(ts - sent[i])
            if ts > latest[i]:
                latest[i] = ts
        if missing:
            lost += missing
            readers_with_loss += 1
    out.lost, out.readers_with_loss = lost, readers_with_loss
    every = sorted((latest[i] - sent[i]) / 1e6 for i in range(publishes) if latest[i])
    out.every_p50_ms = percentile(every, 50)
    out.every_p99_ms = percentile(every, 99)
    out.every_max_ms = every[-1] if every else math.nan
    ordered = sorted(delays)
    out.delivery_p50_ms = percentile(ordered, 50) / 1e6
    out.delivery_p99_ms = percentile(ordered, 99) / 1e6
    out.delivery_max_ms = ordered[-1] / 1e6 if ordered else math.nan


# --- tables ---------------------------------------------------------------------------------


def fmt(value: float, digits: int = 1) -> str:
    return "—" if value != value else f"{value:,.{digits}f}"


def faults(runs: Sequence[RunResult]) -> str:
    total = [
        sum(r.lost for r in runs),
        sum(r.duplicates for r in runs),
        sum(r.out_of_order for r in runs),
        sum(r.disconnects for r in runs),
    ]
    return " / ".join(str(t) for t in total)


def ratio(results: list[RunResult], readers: int, attr: str) -> float:
    """Median over runs of liveblog / nchan, each pair measured back to back."""
    by_run: dict[int, dict[str, float]] = {}
    for r in results:
        if r.readers == readers and r.usable:
            by_run.setdefault(r.run, {})[r.server] = getattr(r, attr)
    ratios = [p["liveblog"] / p["nchan"] for p in by_run.values() if len(p) == 2 and p["nchan"]]
    return median(ratios)


def label(kind: str) -> str:
    return LABELS[kind]


LABELS = {
    "liveblog": "liveblog",
    "composition": "liveblog, composition protocol",
    "nchan": "nginx + nchan (1 worker)",
}


def fanout_tables(results: list[RunResult], args: argparse.Namespace, frame: int) -> list[Any]:
    summary = []
    sizes = sorted({r.readers for r in results})
    for readers in sizes:
        for kind in SERVERS:
            runs = [r for r in results if r.readers == readers and r.server == kind]
            good = [r for r in runs if r.usable]
            if not runs:
                continue

            def med(attr: str, good: list[RunResult] = good) -> float:
                return median([getattr(r, attr) for r in good])

            is_lb = kind == "liveblog"
            summary.append(
                [
                    f"{readers:,}",
                    label(kind),
                    f"{len(good)}/{len(runs)}",
                    fmt(med("every_p50_ms")),
                    fmt(ratio(results, readers, "every_p50_ms"), 2) + TIMES if is_lb else "1",
                    fmt(med("every_max_ms")),
                    fmt(med("delivery_p50_ms")),
                    fmt(med("delivery_p99_ms")),
                    fmt(med("cpu_us_per_delivery")),
                    fmt(ratio(results, readers, "cpu_us_per_delivery"), 2) + TIMES
                    if is_lb
                    else "1",
                    fmt(med("kib_per_reader")),
                    fmt(med("connect_cpu_us_per_reader"), 0),
                    faults(runs),
                ]
            )
    runs_table = [
        [
            f"{r.readers:,}",
            r.run,
            r.server,
            fmt(r.every_p50_ms),
            fmt(r.every_max_ms),
            fmt(r.delivery_p50_ms),
            fmt(r.delivery_p99_ms),
            fmt(r.cpu_us_per_delivery),
            fmt(r.kib_per_reader),
            fmt(r.connect_s),
            fmt(r.post_p50_ms),
            fmt(r.read_lag_p99_ms, 0),
            f"{fmt(r.server_cpu_share, 2)} / {fmt(r.client_cpu_share, 2)} / "
            f"{fmt(r.other_cpu_share, 2)}",
            f"{r.connected:,}",
            faults([r]),
            r.error or ("disturbed: rerun" if r.disturbed else ""),
        ]
        for r in results
    ]
    when = time.strftime("%Y-%m-%d %H:%M %Z")
    notes = [
        f"Measured {when} ({args.source}). "
        f"{args.publishes} entries at one every {args.interval:g} s per run; "
        "medians over the runs. A run that failed, or during which other processes used more "
        f"than {args.max_other_cpu:g} cores (the pair is then run again, at most "
        f"{args.retries} times), is left out of the medians and marked in the second table "
        "(runs: used / made).",
        "every reader has it: the latest kernel receive time (SO_TIMESTAMPNS) over all readers "
        "minus the wall-clock time taken just before the POST was sent; p50 and max over the "
        f"{args.publishes} publishes of a run (with 20 publishes, p99 is the max).",
        "delivery: the same per (reader, entry) pair.",
        "ratio: liveblog / nchan of the same run (the two servers run back to back, "
        "interleaved), median over runs.",
        "CPU: utime + stime of the server process(es) over the publish phase divided by "
        "readers x entries; it includes handling the POST itself and, for liveblog, the batched "
        "keep-alives (every 15 s) that fall in the phase. memory: growth of the server's RSS "
        "(nginx: the worker) while the readers connected, per reader. connect CPU: server "
        "CPU while the readers connected, per reader.",
        "faults: (reader, entry) pairs lost / duplicated / out of order / readers disconnected, "
        "summed over runs; all must be 0.",
        f"liveblog: `liveblog serve` (one process, SQLite), entries POSTed by an editor's token "
        f"with a ~400-character Markdown body; its SSE frame is {frame:,} bytes. nchan: POST "
        "/pub/bench with a one-line body of the same size as liveblog's frame data.",
        f"Client: {{1,2,4}} processes for {{1k,5k,10k}} readers, asyncio + uvloop, "
        f"nice +{args.client_nice} so the server under test gets the CPU first; the 2 cores "
        "are shared by server and clients, the same for both servers.",
    ]
    return [
        table(
            "Fan-out: one blog, N readers, time until every reader has the entry",
            [
                "readers",
                "server",
                "runs",
                "every reader p50 (ms)",
                "p50 ratio",
                "every reader max (ms)",
                "delivery p50 (ms)",
                "delivery p99 (ms)",
                "CPU per delivery (µs)",
                "CPU ratio",
                "memory per reader (KiB)",
                "connect CPU per reader (µs)",
                "faults",
            ],
            summary,
            notes,
        ),
        table(
            "Fan-out: every run, in the order run",
            [
                "readers",
                "run",
                "server",
                "every p50 (ms)",
                "every max (ms)",
                "delivery p50 (ms)",
                "delivery p99 (ms)",
                "CPU/delivery (µs)",
                "KiB/reader",
                "connect (s)",
                "POST (ms)",
                "client read lag p99 (ms)",
                "CPU server / clients / other (cores)",
                "connected",
                "faults",
                "error",
            ],
            runs_table,
        ),
        *fanout_targets(results),
    ]


def publish_tables(results: list[RunResult], args: argparse.Namespace) -> list[Any]:
    rows = []
    for readers in sorted({r.readers for r in results}):
        for kind in SERVERS:
            runs = [r for r in results if r.server == kind and r.readers == readers]
            good = [r for r in runs if r.usable]
            if not good:
                continue

            def med(attr: str, good: list[RunResult] = good) -> float:
                return median([getattr(r, attr) for r in good])

            rows.append(
                [
                    label(kind),
                    f"{readers:,}",
                    f"{len(good)}/{len(runs)}",
                    f"{args.publishes} at {1 / args.interval:g}/s",
                    fmt(med("post_p50_ms"), 1),
                    fmt(med("post_p99_ms"), 1),
                    fmt(med("post_max_ms"), 1),
                    sum(r.post_errors for r in good),
                    fmt(med("every_p50_ms")),
                    fmt(med("every_max_ms")),
                    fmt(med("delivery_p99_ms")),
                    fmt(med("server_cpu_share"), 2),
                    fmt(med("read_lag_p99_ms"), 0),
                    faults(runs),
                ]
            )
    notes = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} ({args.source}). "
        "POST: from just before the request is sent to the kernel receive time of the response "
        "(liveblog: 201 after a durable SQLite commit; nchan: its publisher response); with one "
        "reader it is the cost of a publish without fan-out. Medians over runs.",
        "every reader / delivery: as in the fan-out table; the readers must get every entry "
        "(faults: lost / duplicated / out of order / disconnected). server CPU: the server's "
        "share of one core over the phase. client read lag: how long frames waited in the "
        "kernel for the load client (large values mean the client, not the server, was short "
        "of CPU).",
    ]
    failed = [
        f"{r.server}, {r.readers} readers, run {r.run}: {r.error}" for r in results if r.error
    ]
    return [
        table(
            "Publish: POST of an entry while readers are connected",
            [
                "server",
                "readers",
                "runs",
                "entries",
                "POST p50 (ms)",
                "POST p99 (ms)",
                "POST max (ms)",
                "non-2xx",
                "every reader p50 (ms)",
                "every reader max (ms)",
                "delivery p99 (ms)",
                "server CPU (cores)",
                "client read lag p99 (ms)",
                "faults",
            ],
            rows,
            notes + failed,
        ),
        *publish_targets(results, args),
    ]


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def targets_table(rows: list[list[Any]], note: str) -> list[dict[str, Any]]:
    if not rows:
        return []
    return [table("Issue 3 targets", ["target", "goal", "measured", ""], rows, [note])]


def fanout_targets(results: list[RunResult]) -> list[dict[str, Any]]:
    lb = [r for r in results if r.server == "liveblog" and r.usable]
    if not lb:
        return []
    readers = max(r.readers for r in lb)
    at = [r for r in lb if r.readers == readers]
    rows: list[list[Any]] = []
    p50_ratio = ratio(results, readers, "every_p50_ms")
    if p50_ratio == p50_ratio:
        rows.append(
            [
                f"fan-out: every reader has it, p50, {readers:,} readers",
                f"≤ 1.10 {TIMES} nginx+nchan",
                f"{p50_ratio:.2f} {TIMES}",
                verdict(p50_ratio <= 1.10),
            ]
        )
    cpu = median([r.cpu_us_per_delivery for r in at])
    rows.append(["server CPU per delivery", "≤ 12 µs", f"{cpu:.1f} µs", verdict(cpu <= 12)])
    kb = median([r.kib_per_reader for r in at]) * 1.024
    rows.append(["memory per connected reader", "≤ 8 KB", f"{kb:.1f} KB", verdict(kb <= 8)])
    bad = sum(r.lost + r.duplicates + r.out_of_order for r in lb)
    rows.append(
        ["lost, duplicated or out-of-order entries, every run", "0", str(bad), verdict(not bad)]
    )
    note = f"liveblog at {readers:,} readers (the targets are for 10,000), medians over runs."
    return targets_table(rows, note)


def publish_targets(results: list[RunResult], args: argparse.Namespace) -> list[dict[str, Any]]:
    lb = [r for r in results if r.server == "liveblog" and r.usable]
    if not lb:
        return []
    readers = max(r.readers for r in lb)
    at = [r for r in lb if r.readers == readers]
    p99 = median([r.post_p99_ms for r in at])
    bad = sum(r.lost + r.duplicates + r.out_of_order + r.post_errors for r in at)
    rows = [
        [
            f"POST → 201 p99 with {readers:,} readers, {args.publishes} publishes",
            "≤ 20 ms",
            f"{p99:.1f} ms",
            verdict(p99 <= 20 and args.publishes >= 200),
        ],
        ["every entry reaches every reader, POSTs succeed", "0 faults", str(bad), verdict(not bad)],
    ]
    note = "The targets are for 10,000 readers and at least 200 publishes."
    return targets_table(rows, note)


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__)
    parser.add_argument("benchmark", choices=("fanout", "publish"))
    parser.add_argument("--readers", help="comma-separated reader counts")
    parser.add_argument("--runs", type=int, help="runs per server and size")
    parser.add_argument(
        "--servers", default=",".join(DEFAULT_SERVERS), help="liveblog,nchan (or composition)"
    )
    parser.add_argument("--publishes", type=int, help="entries per run")
    parser.add_argument("--interval", type=float, help="seconds between publishes")
    parser.add_argument("--processes", type=int, default=0, help="client processes (0: auto)")
    parser.add_argument("--client-nice", type=int, default=10)
    parser.add_argument("--batch", type=int, default=250, help="connects in flight per process")
    parser.add_argument("--connect-timeout", type=float, default=240.0)
    parser.add_argument("--collect-wait", type=float, default=20.0)
    parser.add_argument("--keep-workdir", action="store_true")
    parser.add_argument(
        "--max-other-cpu",
        type=float,
        default=0.25,
        help="cores other processes may use during a run before it is run again",
    )
    parser.add_argument("--retries", type=int, default=2, help="reruns per disturbed pair")
    parser.add_argument("--out", help="results name (default: the benchmark's)")
    args = parser.parse_args(argv)
    publish = args.benchmark == "publish"
    args.sizes = [
        int(s) for s in (args.readers or ("1,10000" if publish else "1000,5000,10000")).split(",")
    ]
    args.publishes = args.publishes or (200 if publish else 20)
    args.interval = args.interval or (0.1 if publish else 1.0)
    args.kinds = [s.strip() for s in args.servers.split(",") if s.strip()]
    for kind in args.kinds:
        if kind not in SERVERS:
            parser.error(f"unknown server {kind!r}")
    return args


def runs_for(readers: int, args: argparse.Namespace) -> int:
    if args.runs:
        return int(args.runs)
    if args.benchmark == "publish":
        return 1
    return 5 if readers >= 10_000 else 3


def summary_line(result: RunResult) -> str:
    return (
        f"  every reader p50 {fmt(result.every_p50_ms)} ms, max {fmt(result.every_max_ms)} ms; "
        f"delivery p99 {fmt(result.delivery_p99_ms)} ms; CPU "
        f"{fmt(result.cpu_us_per_delivery)} µs/delivery; {fmt(result.kib_per_reader)} "
        f"KiB/reader; POST p50/p99/max {fmt(result.post_p50_ms, 2)}/"
        f"{fmt(result.post_p99_ms, 2)}/{fmt(result.post_max_ms, 2)} ms; connect "
        f"{fmt(result.connect_s)} s ({fmt(result.connect_cpu_us_per_reader, 0)} µs "
        f"CPU/reader); faults {faults([result])}; client read lag p99 "
        f"{fmt(result.read_lag_p99_ms, 0)} ms; CPU server {fmt(result.server_cpu_share, 2)} "
        f"clients {fmt(result.client_cpu_share, 2)} other {fmt(result.other_cpu_share, 2)} cores"
        + (f"; {result.error}" if result.error else "")
    )


def save(name: str, results: list[RunResult], args: argparse.Namespace, frame: int) -> Path:
    """The tables so far (an interrupted session still leaves its runs) and the raw runs."""
    tables = (
        publish_tables(results, args)
        if args.benchmark == "publish"
        else fanout_tables(results, args, frame)
    )
    raw = RESULTS_DIR / "runs" / f"{name}.json"
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n")
    return save_results(name, tables)


def session(
    args: argparse.Namespace, data: int, save_as: Callable[[list[RunResult]], Path]
) -> list[RunResult]:
    """Every size's runs, the servers interleaved run by run; a pair disturbed by other
    processes is run again. `save_as` is called after each run (an interrupted session still
    leaves its runs)."""
    results: list[RunResult] = []
    for readers in args.sizes:
        for run in range(1, runs_for(readers, args) + 1):
            for attempt in range(args.retries + 1):
                pair = []
                for kind in args.kinds:
                    log(f"{args.benchmark}: {kind}, {readers} readers, run {run}")
                    result = run_one(kind, readers, run, args, data)
                    pair.append(result)
                    results.append(result)
                    log(summary_line(result))
                    save_as(results)
                busy = [r for r in pair if r.other_cpu_share > args.max_other_cpu]
                if not busy or attempt == args.retries:
                    break
                for r in pair:
                    r.disturbed = True
                log(
                    f"  other processes used {max(r.other_cpu_share for r in busy):.2f} cores: "
                    "running this pair again"
                )
                save_as(results)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_file_limit()
    args.source = source_state()
    if "nchan" in args.kinds:
        ensure_packages()
    frame, data = probe_frame(args)
    log(f"liveblog's frame for one entry: {frame} bytes ({data} bytes of data)")
    name = args.out or args.benchmark
    started = time.monotonic()
    results = session(args, data, lambda results: save(name, results, args, frame))
    path = save(name, results, args, frame)
    log(f"{args.benchmark} done in {time.monotonic() - started:.0f} s: {path}")
    return 1 if any(r.error or r.lost or r.duplicates or r.out_of_order for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
