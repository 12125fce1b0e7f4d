"""Fan-out on PostgreSQL: `serve --workers 2` beside one process, and delivery across nodes.

    python -m bench.cluster [all|workers|cross] [--readers 1000,10000] [--runs N] ...

workers: one blog, N readers, entries published at 1/s, as in `bench.fanout fanout`; the rows
are `liveblog serve` (one process) and `liveblog serve --workers 2`, both on PostgreSQL, run
back to back (interleaved). The spread of the readers over the workers is counted from /proc
(ESTABLISHED sockets on the port held by each worker).

cross: two nodes, A and B (two `liveblog serve` on one PostgreSQL database). Entries are
published on A; the readers are on B (the entry reaches B through NOTIFY and a read of the log)
or, as the baseline run back to back with it, on A.

Every run gets a fresh database (dropped after). Times and faults: bench.fanout's code; CPU is
split between liveblog and the PostgreSQL backends of the run's database. Results:
bench/results/{workers,cross_node}.json, rendered by `python -m bench.report`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from bench.common import (
    RESULTS_DIR,
    HttpClient,
    LiveblogServer,
    child_pids,
    cpu_by_pid,
    cpu_since,
    entry_json,
    established_per_process,
    liveblog_command,
    log,
    median,
    raise_file_limit,
    save_results,
    source_state,
    system_busy_seconds,
    table,
    wait_until_quiet,
)
from bench.fanout import RunResult, analyse, faults, fmt, processes_for, publish_steadily
from bench.readers import ReaderPool

ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
BENCHMARKS: dict[str, tuple[str, ...]] = {"workers": ("one", "workers2"), "cross": ("A", "B")}
SIZES = {"workers": "1000,10000", "cross": "1000,5000"}
RESULTS = {"workers": "workers", "cross": "cross_node"}
LABELS = {
    "one": "`serve`, one process, PostgreSQL",
    "workers2": "`serve --workers 2`, PostgreSQL",
    "sqlite": "`serve`, one process, SQLite (fanout.json, not rerun)",
    "B": "on node B (publisher on A)",
    "A": "on node A (same node as the publisher)",
}
TIMES = "\N{MULTIPLICATION SIGN}"


@dataclass
class ClusterResult(RunResult):
    pg_cpu_us_per_delivery: float = math.nan  # the PostgreSQL backends of the run's database
    pg_cpu_share: float = math.nan
    spread: list[int] = field(default_factory=list)  # reader sockets held by each worker


# --- PostgreSQL and /proc -------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(tag: str) -> Iterator[str]:
    """A new database for one run, migrated by the CLI; dropped (connections and all) after."""
    name = f"liveblog_bench_{os.getpid()}_{tag}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        migrate = [liveblog_command(), "migrate", "--database-url", url]
        subprocess.run(migrate, capture_output=True, timeout=60, check=True)
        yield url
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def backends_of(database: str) -> list[int]:
    """The PostgreSQL backends connected to `database` (their process titles name it)."""
    found, name = [], f" {database} ".encode()
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            title = (entry / "cmdline").read_bytes() if entry.name.isdigit() else b""
            if title.startswith(b"postgres: ") and name in title.replace(b"\0", b" "):
                found.append(int(entry.name))
    return found


def node_pids(node: LiveblogServer) -> list[int]:
    """The node's process and, with --workers, the supervisor's children."""
    return [*node.pids(), *child_pids(node.pids()[0])]


def workers_of(node: LiveblogServer) -> list[int]:
    pids = child_pids(node.pids()[0])
    spawned = [p for p in pids if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
    return spawned or node.pids()


def wait_healthy(node: LiveblogServer, timeout: float = 30.0) -> None:
    """Until /healthz says the node hears the others (its LISTEN connection is up); with
    workers each new connection may land on another one, so it must pass a few times."""
    deadline = time.monotonic() + timeout
    passes = 0
    while passes < 4:
        client = HttpClient(node.port, timeout=5)
        try:
            passes = passes + 1 if client.request("GET", "/healthz").status == 200 else 0
        finally:
            client.close()
        if time.monotonic() > deadline:
            raise TimeoutError(f"node on port {node.port} not healthy after {timeout:.0f} s")
        time.sleep(0.1)


# --- one run --------------------------------------------------------------------------------


def start_nodes(benchmark: str, variant: str, url: str, workdir: Path) -> list[LiveblogServer]:
    """The publisher first, then (cross) node B, each healthy before the run."""
    serve_args = ("--workers", "2") if variant == "workers2" else ()
    nodes = [LiveblogServer(workdir / "a", database_url=url, serve_args=serve_args)]
    if benchmark == "cross":
        nodes.append(LiveblogServer(workdir / "b", database_url=url, setup=False))
    for node in nodes:
        node.start()
    for node in nodes:
        wait_healthy(node)
    return nodes


def measure(benchmark: str, variant: str, readers: int, run: int, args: Any) -> ClusterResult:
    processes = args.processes or processes_for(readers)
    result = ClusterResult(variant, readers, run, args.publishes, args.interval, processes)
    workdir = Path(tempfile.mkdtemp(prefix="liveblog-cluster-"))
    nodes: list[LiveblogServer] = []
    try:
        with fresh_database(f"{benchmark}_{variant}_{readers}_{run}".lower()) as url:
            try:
                nodes = start_nodes(benchmark, variant, url, workdir)
                phase(nodes, variant, url, result, args)
            finally:
                for node in nodes:
                    node.stop()
    except Exception as exc:  # a failed run is reported, the session goes on
        result.error = f"{type(exc).__name__}: {exc}"
        log(f"run failed: {result.error} (logs in {workdir})")
    if not result.error:  # a failed run keeps the nodes' logs
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def phase(
    nodes: list[LiveblogServer], variant: str, url: str, out: ClusterResult, args: Any
) -> None:
    """Readers connect to their node, entries go to the publisher; times, CPU and faults."""
    publisher = nodes[0]
    serving = nodes[1] if variant == "B" else publisher
    for _ in range(3):
        publisher.publish(entry_json(None))  # warm the publish path (and the bridge)
    time.sleep(0.5)
    database = url.rsplit("/", 1)[1]
    servers = [pid for node in nodes for pid in node_pids(node)]
    with ReaderPool(
        port=serving.port,
        path=serving.stream_path,
        extra_headers=serving.stream_headers,
        readers=out.readers,
        processes=out.processes,
        publishes=args.publishes,
        nice=args.client_nice,
    ) as pool:
        counts = pool.connect(args.connect_timeout)
        out.connected, out.connect_s = counts.connected, counts.connect_seconds
        out.connect_failures = counts.connect_failures
        if counts.connected < out.readers:
            out.error = f"only {counts.connected} of {out.readers} connected: {counts.errors}"
        time.sleep(1.0)
        # The publisher's own connection is not a reader (on another node its client port may
        # be a reader's too: ports are unique per destination).
        sock = publisher.client.sock if publisher.client and serving is publisher else None
        skip = sock.getsockname()[1] if sock is not None else -1
        out.spread = established_per_process(serving.port, workers_of(serving), skip)
        mine = [os.getpid(), *pool.pids]
        before = cpu_by_pid(servers + mine)
        pg_before = cpu_by_pid(backends_of(database))
        busy_before, wall_before = system_busy_seconds(), time.monotonic()
        sent, posts = publish_steadily(publisher, "liveblog", entry_json, args, out)
        collected = pool.collect(args.collect_wait)
        wall = time.monotonic() - wall_before
        server_cpu = cpu_since(before, servers)
        pg_cpu = cpu_since(pg_before, backends_of(database))
        clients_cpu = cpu_since(before, pool.pids)
        own_cpu = cpu_since(before, [os.getpid()])
        busy = system_busy_seconds() - busy_before
    deliveries = max(1, collected.counts.connected) * args.publishes
    out.cpu_us_per_delivery = server_cpu * 1e6 / deliveries
    out.pg_cpu_us_per_delivery = pg_cpu * 1e6 / deliveries
    out.server_cpu_share, out.pg_cpu_share = server_cpu / wall, pg_cpu / wall
    out.client_cpu_share = clients_cpu / wall
    out.other_cpu_share = (busy - server_cpu - pg_cpu - clients_cpu - own_cpu) / wall
    c = collected.counts
    out.duplicates, out.out_of_order, out.disconnects = c.duplicates, c.out_of_order, c.disconnects
    out.frame_bytes, out.read_lag_p99_ms = c.frame_bytes, c.read_lag_percentile(99)
    analyse(collected.times, out.readers, args.publishes, sent, out)
    out.post_p50_ms = median(posts)


# --- tables ---------------------------------------------------------------------------------


def pair_ratio(results: list[ClusterResult], readers: int, attr: str, top: str, base: str) -> float:
    """Median over runs of top / base, each pair measured back to back."""
    by_run: dict[int, dict[str, float]] = {}
    for r in results:
        if r.readers == readers and r.usable:
            by_run.setdefault(r.run, {})[r.server] = getattr(r, attr)
    return median([p[top] / p[base] for p in by_run.values() if top in p and base in p and p[base]])


def sqlite_reference(readers: int) -> dict[str, float] | None:
    """Medians of the single-process SQLite fan-out runs already in runs/fanout.json."""
    path = RESULTS_DIR / "runs" / "fanout.json"
    with contextlib.suppress(OSError, ValueError):
        runs = [
            r
            for r in json.loads(path.read_text())
            if r["server"] == "liveblog" and r["readers"] == readers
            if not r["error"] and not r.get("disturbed")
        ]
        if runs:
            keys = ("every_p50_ms", "every_max_ms", "delivery_p50_ms", "delivery_p99_ms")
            ref = {k: median([r[k] for r in runs]) for k in (*keys, "cpu_us_per_delivery")}
            return {**ref, "runs": len(runs)}
    return None


def spread_text(r: ClusterResult) -> str:
    return " / ".join(f"{n:,}" for n in r.spread) if len(r.spread) > 1 else f"{sum(r.spread):,}"


def run_row(r: ClusterResult, max_other: float) -> list[Any]:
    row = [f"{r.readers:,}", r.run, LABELS[r.server], fmt(r.every_p50_ms), fmt(r.every_max_ms)]
    row += [fmt(r.delivery_p50_ms), fmt(r.delivery_p99_ms), fmt(r.cpu_us_per_delivery)]
    row += [fmt(r.pg_cpu_us_per_delivery), fmt(r.post_p50_ms), fmt(r.read_lag_p99_ms, 0)]
    shares = (r.server_cpu_share, r.pg_cpu_share, r.client_cpu_share, r.other_cpu_share)
    row += [" / ".join(fmt(v, 2) for v in shares), spread_text(r), faults([r])]
    kept = "disturbed, kept: no retries left" if r.other_cpu_share > max_other else ""
    return [*row, r.error or ("disturbed: rerun" if r.disturbed else kept)]


def tables(benchmark: str, results: list[ClusterResult], args: Any) -> list[dict[str, Any]]:
    base = BENCHMARKS[benchmark][0]  # the ratios' denominator
    workers = benchmark == "workers"
    rows = []
    for readers in sorted({r.readers for r in results}):
        for variant in BENCHMARKS[benchmark]:
            runs = [r for r in results if r.readers == readers and r.server == variant]
            good = [r for r in runs if r.usable]

            def med(attr: str, good: list[ClusterResult] = good) -> str:
                return fmt(median([getattr(r, attr) for r in good]))

            ratio = pair_ratio(results, readers, "every_p50_ms", variant, base)
            row = [f"{readers:,}", LABELS[variant], f"{len(good)}/{len(runs)}"]
            row += [med("every_p50_ms"), "1" if variant == base else fmt(ratio, 2) + TIMES]
            row += [med("every_max_ms"), med("delivery_p50_ms"), med("delivery_p99_ms")]
            row += [med("cpu_us_per_delivery"), med("pg_cpu_us_per_delivery")]
            row += ["; ".join(spread_text(r) for r in good) or "—"] if workers else []
            rows.append([*row, faults(runs)])
        ref = sqlite_reference(readers) if workers else None
        if ref:
            row = [f"{readers:,}", LABELS["sqlite"], f"{ref['runs']:.0f}", fmt(ref["every_p50_ms"])]
            row += ["—", fmt(ref["every_max_ms"]), fmt(ref["delivery_p50_ms"])]
            rows.append([*row, fmt(ref["delivery_p99_ms"]), fmt(ref["cpu_us_per_delivery"])])
            rows[-1] += ["—", "—", "—"]
    columns = ["readers", "server" if workers else "readers are", "runs", "every reader p50 (ms)"]
    columns += ["p50 ratio (to one process)" if workers else "p50 ratio (B / A)"]
    columns += ["every reader max (ms)", "delivery p50 (ms)", "delivery p99 (ms)"]
    columns += ["liveblog CPU per delivery (µs)", "PostgreSQL CPU per delivery (µs)"]
    columns += [*(["readers per worker, each run"] if workers else []), "faults"]
    run_columns = [columns[0], "run", columns[1], "every p50 (ms)", "every max (ms)"]
    run_columns += ["delivery p50 (ms)", "delivery p99 (ms)", "CPU/delivery liveblog (µs)"]
    run_columns += ["CPU/delivery PostgreSQL (µs)", "POST p50 (ms)", "client read lag p99 (ms)"]
    run_columns += ["CPU liveblog / PostgreSQL / clients / other (cores)"]
    run_columns += ["readers per process", "faults", "error"]
    caption = (
        "Workers: one blog, N readers, `serve` against `serve --workers 2`, on PostgreSQL"
        if workers
        else "Cross-node: entries published on node A, the readers on node B (or on A)"
    )
    return [
        table(caption, columns, rows, notes(benchmark, args)),
        table(
            f"{caption.split(':')[0]}: every run, in the order run",
            run_columns,
            [run_row(r, args.max_other_cpu) for r in results],
        ),
    ]


def notes(benchmark: str, args: Any) -> list[str]:
    how = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} ({args.source}); {args.publishes} entries "
        f"at one every {args.interval:g} s per run, a fresh PostgreSQL 15 database per run (local, "
        "trust auth); medians over runs. A pair of runs during which other processes used more "
        f"than {args.max_other_cpu:g} cores is left out and run again, at most {args.retries} "
        "times (the last attempt is kept; runs: used / made); before each pair the machine must "
        "be quiet (waiting up to 60 s). ratio: to the other row's run made just before, median.",
        "every reader has it: the latest kernel receive time (SO_TIMESTAMPNS) over all readers "
        "minus the wall-clock time just before the POST was sent (p50, max over a run's entries); "
        "delivery: the same per (reader, entry) pair (p50, p99 over all pairs).",
        "CPU per delivery: utime + stime over the publish phase / (readers x entries), of every "
        "liveblog process (supervisor and workers; both nodes) and, apart, of the PostgreSQL "
        "backends of the run's database. faults: lost / duplicated / out of order / "
        "disconnected, summed over runs; all must be 0.",
        "2 cores shared by liveblog, PostgreSQL and the load clients ({1,2,4} processes for "
        f"{{1k,5k,10k}} readers, nice +{args.client_nice}), and by other agents' test runs.",
    ]
    if benchmark == "cross":
        how.append(
            "Nodes A and B: two `liveblog serve` (one process each) on one database; an entry "
            "reaches B by NOTIFY (sent in A's write transaction) and a read of the log. Both nodes "
            "run in both rows."
        )
    else:
        how.append(
            "readers per worker: ESTABLISHED sockets on the port held by each worker "
            "(/proc/PID/fd against /proc/net/tcp) once all had connected. SQLite row: medians "
            "of the usable runs in bench/results/runs/fanout.json, an earlier session: not "
            "interleaved, and this machine's speed drifts between sessions, so compare the two "
            "PostgreSQL rows with each other rather than with it."
        )
    return how


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__)
    parser.add_argument("benchmark", nargs="?", default="all", choices=("all", *BENCHMARKS))
    parser.add_argument("--readers", help="comma-separated reader counts (default per benchmark)")
    parser.add_argument("--runs", type=int, default=2, help="runs per row and size")
    parser.add_argument("--publishes", type=int, default=20, help="entries per run")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between entries")
    parser.add_argument("--processes", type=int, default=0, help="client processes (0: auto)")
    parser.add_argument("--client-nice", type=int, default=10)
    parser.add_argument("--connect-timeout", type=float, default=240.0)
    parser.add_argument("--collect-wait", type=float, default=20.0)
    parser.add_argument("--max-other-cpu", type=float, default=0.25)
    parser.add_argument("--retries", type=int, default=2, help="reruns per disturbed pair")
    return parser.parse_args(argv)


def session(benchmark: str, args: argparse.Namespace) -> list[ClusterResult]:
    """Every size and run: the benchmark's two rows back to back, again if disturbed."""
    results: list[ClusterResult] = []
    sizes = [int(s) for s in (args.readers or SIZES[benchmark]).split(",")]
    for readers in sizes:
        for run in range(1, args.runs + 1):
            for attempt in range(args.retries + 1):
                wait_until_quiet(args.max_other_cpu, timeout=60)
                pair = []
                for variant in BENCHMARKS[benchmark]:
                    log(f"{benchmark}: {LABELS[variant]}, {readers} readers, run {run}")
                    pair.append(measure(benchmark, variant, readers, run, args))
                    results.append(pair[-1])
                    save(benchmark, results, args)
                    log_result(pair[-1])
                other = max(r.other_cpu_share for r in pair)
                if not other > args.max_other_cpu or attempt == args.retries:
                    break
                for r in pair:
                    r.disturbed = True
                log(f"  other processes used {other:.2f} cores: running this pair again")
                save(benchmark, results, args)
    return results


def log_result(r: ClusterResult) -> None:
    log(
        f"  every reader p50 {fmt(r.every_p50_ms)} max {fmt(r.every_max_ms)} ms; delivery "
        f"p50/p99 {fmt(r.delivery_p50_ms)}/{fmt(r.delivery_p99_ms)} ms; CPU/delivery "
        f"{fmt(r.cpu_us_per_delivery)} + PG {fmt(r.pg_cpu_us_per_delivery)} µs; spread "
        f"{spread_text(r)}; faults {faults([r])}; CPU other {fmt(r.other_cpu_share, 2)}"
        + (f"; {r.error}" if r.error else "")
    )


def save(benchmark: str, results: list[ClusterResult], args: argparse.Namespace) -> Path:
    raw = RESULTS_DIR / "runs" / f"{RESULTS[benchmark]}.json"
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n")
    return save_results(RESULTS[benchmark], tables(benchmark, results, args))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_file_limit()
    liveblog_command()  # fail early without the CLI
    args.source = source_state()
    chosen = list(BENCHMARKS) if args.benchmark == "all" else [args.benchmark]
    started = time.monotonic()
    bad = False
    for benchmark in chosen:
        results = session(benchmark, args)
        bad |= any(r.error or r.lost or r.duplicates or r.out_of_order for r in results)
    log(f"done in {time.monotonic() - started:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
