"""Catch-up benchmark: a deploy sends 1,000 readers back at once with `Last-Event-ID`.

    python -m bench.catchup [--stayed 2000] [--deploy 1000] [--runs 3] [--log-gap 1100] ...

One `liveblog serve` (fresh per run), two groups of readers on one blog: the "stayed" readers
(2,000) keep their connection the whole time; the "deploy" readers (1,000) remember the last
SSE id they received. Entries (each with a `bench-N` marker) are POSTed on a fixed schedule:

    before    10 s at 2/s     every reader connected
    downtime   3 s at 2/s     the deploy readers' sockets are closed at once (a node going
                              away); they miss these entries
    storm      2 s at 10/s    the deploy readers all reconnect at the same instant, each with
                              `Last-Event-ID` = the last id it had received
    after      5 s at 2/s

Checks and measurements: every deploy reader ends with exactly the full sequence of markers,
counted over both of its connections (none lost, none twice, none out of order); the storm's
length, from the first reconnect to the last new response head and to the last deploy reader
holding every entry it missed; the server CPU the storm cost; and the stayed readers' delivery
latency (kernel receive time minus the time the POST was sent) per phase, the storm phase
against the one before it. The deploy readers behave like a browser's EventSource: a reader
the server closes comes back 3 s later with its `Last-Event-ID` (counted as "server closes").

The log variant (`--log-gap`, one run): more entries are published while the deploy readers are
away than the hub keeps in memory (1,024 frames), so their replay is read from the log.

The restart variant (`--restart-readers`, one run; bench/restart.py): every reader of a node
(10,000) reconnects at once to the node's new process, a few entries behind, the replay from
the log.

nginx + nchan is not run: it resumes `Last-Event-ID` only from its in-memory message buffer
(16 messages in the peer configuration, gone on restart), not from a durable log, so there is
no comparable catch-up to measure.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import tempfile
import threading
import time
from array import array
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    RESULTS_DIR,
    HttpClient,
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
    wait_until_quiet,
)
from bench.readers import Collected, ReaderPool
from bench.restart import VARIANT as RESTART
from bench.restart import restart_table, run_restart

RECENT_FRAMES = 1024  # liveblog.broadcast.channel.RECENT_FRAMES: the hub's replay memory
BEFORE, DOWNTIME, STORM, AFTER = "before", "downtime", "storm", "after"
PHASE_LABELS = {
    BEFORE: "before the storm",
    DOWNTIME: "deploy readers away",
    STORM: "reconnect storm",
    AFTER: "after the storm",
}


@dataclass
class PhaseStats:
    entries: int = 0
    delivery_p50_ms: float = math.nan
    delivery_p99_ms: float = math.nan
    delivery_max_ms: float = math.nan
    every_p50_ms: float = math.nan  # per entry: the last stayed reader's receive time
    every_max_ms: float = math.nan


@dataclass
class RunResult:
    variant: str  # "memory" or "log"
    run: int
    stayed: int
    deploy: int
    publishes: int = 0
    connected: int = 0
    # deploy readers
    complete: int = 0  # deploy readers holding every entry exactly once, in order
    lost: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    server_closes: int = 0  # deploy readers the server closed (they came back 3 s later)
    reconnect_failures: int = 0
    without_id: int = 0  # deploy readers that had no id to resume from
    missed_p50: float = math.nan  # entries a deploy reader missed while away (replayed)
    behind_min: int = 0  # frames a deploy reader was behind when it reconnected (the blog's
    behind_max: int = 0  # seq then minus the Last-Event-ID it sent): fewest and most
    heads_ms_p50: float = math.nan  # first reconnect -> a reader's new response head
    heads_ms_p99: float = math.nan
    storm_heads_ms: float = math.nan  # first reconnect -> last new response head
    storm_caught_up_ms: float = math.nan  # first reconnect -> last reader holds what it missed
    storm_cpu_us_per_reader: float = math.nan  # server CPU over the reopen call / readers
    catchup_cpu_ms_per_reader: float = math.nan  # log: server CPU reopen -> all caught up
    # stayed readers
    stayed_lost: int = 0
    stayed_faults: int = 0  # duplicates + out of order + disconnects
    phases: dict[str, PhaseStats] = field(default_factory=dict)
    in_storm: PhaseStats = field(default_factory=PhaseStats)  # sent while reconnecting
    post_p99_ms: float = math.nan
    post_errors: int = 0
    rss_mib: float = math.nan
    read_lag_p99_ms: float = math.nan
    server_cpu_share: float = math.nan
    client_cpu_share: float = math.nan
    other_cpu_share: float = math.nan
    error: str = ""
    disturbed: bool = False

    @property
    def usable(self) -> bool:
        return not self.error and not self.disturbed


@dataclass
class Plan:
    """When each entry is POSTed (seconds after the start; None: right after the previous
    one), and in which phase."""

    offsets: list[float | None]
    phases: list[str]
    close_at: float  # when the deploy readers' sockets are closed
    reopen_at: float | None  # when they reconnect (None: as soon as the gap is published)


def memory_plan(args: argparse.Namespace) -> Plan:
    offsets: list[float | None] = []
    phases: list[str] = []

    def add(phase: str, start: float, seconds: float, rate: float) -> float:
        count = round(seconds * rate)
        offsets.extend(start + k / rate for k in range(count))
        phases.extend([phase] * count)
        return start + seconds

    t = add(BEFORE, 0.0, args.before, args.rate)
    close_at = t
    t = add(DOWNTIME, t + 0.25, args.downtime - 0.25, args.rate)
    reopen_at = t
    t = add(STORM, t, args.storm, args.storm_rate)
    add(AFTER, t, args.after, args.rate)
    return Plan(offsets, phases, close_at, reopen_at)


def log_plan(args: argparse.Namespace) -> Plan:
    """Like the memory plan, but the deploy readers miss `log_gap` entries, POSTed back to
    back once their sockets are closed, and reconnect as soon as the last is published."""
    before = [i / args.rate for i in range(round(4 * args.rate))]
    close_at = len(before) / args.rate
    offsets: list[float | None] = [*before, close_at + 0.25, *([None] * (args.log_gap - 1))]
    phases = [BEFORE] * len(before) + [DOWNTIME] * args.log_gap
    after = round(args.after * args.rate)
    storm = min(after, round(2 * args.rate))
    offsets += [None] + [1 / args.rate] * (after - 1)  # relative to the previous POST
    phases += [STORM] * storm + [AFTER] * (after - storm)
    return Plan(offsets, phases, close_at=close_at, reopen_at=None)


class Publisher(threading.Thread):
    """POSTs the plan's entries (marker n = its index + 1) while the main thread drives the
    readers. A float offset is absolute (seconds after start); in a log plan the entries after
    the gap are spaced relative to the previous POST instead."""

    def __init__(self, server: LiveblogServer, plan: Plan, relative_after_gap: bool) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.plan = plan
        self.relative = relative_after_gap
        self.sent = [0] * len(plan.offsets)
        self.posts: list[float] = []
        self.errors = 0
        self.start_mono = 0.0
        self.gap_done = threading.Event()  # every DOWNTIME entry has been POSTed
        self.failure = ""

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # reported by the main thread
            self.failure = f"publisher: {type(exc).__name__}: {exc}"
            self.gap_done.set()

    def _run(self) -> None:
        plan = self.plan
        last_downtime = max(i for i, p in enumerate(plan.phases) if p == DOWNTIME)
        previous = self.start_mono
        for i, offset in enumerate(plan.offsets):
            if offset is not None:
                due = previous + offset if self.relative and i > last_downtime else None
                due = due if due is not None else self.start_mono + offset
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            previous = time.monotonic()
            response = self.server.publish(entry_json(i + 1))
            if response.status != 201:
                self.errors += 1
                log(f"publish {i + 1}: {response.status} {response.body[:200]!r}")
            self.sent[i] = response.sent_ns
            self.posts.append(response.latency_ms)
            if i == last_downtime:
                self.gap_done.set()


# --- one run --------------------------------------------------------------------------------


def run_one(variant: str, run: int, args: argparse.Namespace) -> RunResult:
    if variant == RESTART:
        restart = RunResult(RESTART, run, 0, args.restart_readers)
        try:
            run_restart(restart, args, blog_seq, analyse_deploy)
        except Exception as exc:  # a failed run is reported, the session goes on
            restart.error = f"{type(exc).__name__}: {exc}"
            log(f"run failed: {restart.error}")
        return restart
    is_log = variant == "log"
    stayed_n = args.log_stayed if is_log else args.stayed
    deploy_n = args.log_deploy if is_log else args.deploy
    result = RunResult(variant, run, stayed_n, deploy_n)
    plan = log_plan(args) if is_log else memory_plan(args)
    publishes = len(plan.offsets)
    result.publishes = publishes
    workdir = Path(tempfile.mkdtemp(prefix="liveblog-bench-"))
    server = LiveblogServer(workdir)
    try:
        server.start()
        for _ in range(3):
            server.publish(entry_json(None))  # warm the publish path (no marker)
        pids = server.pids()
        common = dict(
            port=server.port,
            path=server.stream_path,
            extra_headers=server.stream_headers,
            publishes=publishes,
            nice=args.client_nice,
            batch=args.batch,
        )
        with (
            ReaderPool(
                readers=stayed_n, processes=max(1, math.ceil(stayed_n / 2500)), **common
            ) as stayed,
            ReaderPool(
                readers=deploy_n,
                processes=args.deploy_processes,
                track_ids=True,
                auto_resume=args.resume_after,
                **common,
            ) as deploy,
        ):
            counts = [stayed.connect(args.connect_timeout), deploy.connect(args.connect_timeout)]
            result.connected = sum(c.connected for c in counts)
            if result.connected < stayed_n + deploy_n:
                raise RuntimeError(
                    f"only {result.connected} of {stayed_n + deploy_n} connected: "
                    f"{counts[0].errors + counts[1].errors}"
                )
            time.sleep(1.0)
            clients = stayed.pids + deploy.pids
            cpu0, client0, own0 = (
                cpu_seconds(pids),
                cpu_seconds(clients),
                cpu_seconds([os.getpid()]),
            )
            all0, wall0 = system_busy_seconds(), time.monotonic()

            publisher = Publisher(server, plan, relative_after_gap=is_log)
            publisher.start_mono = time.monotonic() + 0.2
            publisher.start()
            sleep_until(publisher.start_mono + plan.close_at)
            deploy.close_readers()
            if plan.reopen_at is None:
                publisher.gap_done.wait(args.gap_timeout)
            else:
                sleep_until(publisher.start_mono + plan.reopen_at)
            seq_at_reopen = blog_seq(server)
            storm_cpu0 = cpu_seconds(pids)
            reports = deploy.reopen(0, args.connect_timeout)
            result.storm_cpu_us_per_reader = (cpu_seconds(pids) - storm_cpu0) * 1e6 / deploy_n
            publisher.join(args.gap_timeout + 120)
            if publisher.failure:
                raise RuntimeError(publisher.failure)
            result.rss_mib = rss_kib(server.memory_pid) / 1024
            got_stayed = stayed.collect(args.collect_wait)
            got_deploy = deploy.collect(args.log_collect_wait if is_log else args.collect_wait)
            if is_log:  # the replays dominate; the live fan-out meanwhile is small
                result.catchup_cpu_ms_per_reader = (cpu_seconds(pids) - storm_cpu0) * 1e3 / deploy_n
            wall = time.monotonic() - wall0
            server_cpu = cpu_seconds(pids) - cpu0
            client_cpu = cpu_seconds(clients) - client0
            own_cpu = cpu_seconds([os.getpid()]) - own0
            other = system_busy_seconds() - all0 - server_cpu - client_cpu - own_cpu
            result.server_cpu_share = server_cpu / wall
            result.client_cpu_share = client_cpu / wall
            result.other_cpu_share = other / wall
        result.post_errors = publisher.errors
        posts = sorted(publisher.posts)
        result.post_p99_ms = percentile(posts, 99)
        analyse_deploy(got_deploy, reports, publisher.sent, seq_at_reopen, result)
        analyse_stayed(got_stayed, plan, publisher.sent, reports, result)
    except Exception as exc:  # a failed run is reported, the session goes on
        result.error = f"{type(exc).__name__}: {exc}"
        log(f"run failed: {result.error}")
    finally:
        server.stop()
        if not args.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


def blog_seq(server: LiveblogServer) -> int:
    """The blog's seq now (its own connection: the publisher thread owns server.client)."""
    client = HttpClient(server.port)
    try:
        return int(client.request("GET", f"/api/blogs/{server.slug}").json()["seq"])
    finally:
        client.close()


def sleep_until(when: float) -> None:
    delay = when - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def analyse_deploy(
    got: Collected,
    reports: list[dict[str, Any]],
    sent: list[int],
    seq_at_reopen: int,
    out: RunResult,
) -> None:
    publishes = got.publishes
    c = got.counts
    out.complete = c.complete
    out.duplicates, out.out_of_order = c.duplicates, c.out_of_order
    out.server_closes = c.resumes
    out.reconnect_failures = c.resume_failures + sum(
        len(r["head_ns"]) - r["reconnected"] for r in reports
    )
    out.read_lag_p99_ms = c.read_lag_percentile(99)
    started = min(r["started_ns"] for r in reports)
    heads = [h for r in reports for h in r["head_ns"]]
    resumed_from = [i for r in reports for i in r["resumed_from"]]
    out.without_id = sum(1 for i in resumed_from if not i)
    ok_heads = sorted((h - started) / 1e6 for h in heads if h)
    out.heads_ms_p50 = percentile(ok_heads, 50)
    out.heads_ms_p99 = percentile(ok_heads, 99)
    out.storm_heads_ms = ok_heads[-1] if ok_heads else math.nan
    # The entries each deploy reader missed: POSTed before the reconnect and received after it
    # (the replay, or a later resume's), by marker.
    missed: list[int] = []
    caught_up = 0
    lost = 0
    times = got.times
    newest_before = max((i for i, s in enumerate(sent) if s and s < started), default=-1)
    for r in range(got.readers):
        row = times[r * publishes : (r + 1) * publishes]
        lost += sum(1 for ts in row if ts == 0)
        gone = [i for i in range(newest_before + 1) if row[i] >= started]
        missed.append(len(gone))
        for i in gone:
            caught_up = max(caught_up, row[i])
    out.lost = lost
    out.missed_p50 = median([float(m) for m in missed])
    out.storm_caught_up_ms = (caught_up - started) / 1e6 if caught_up else math.nan
    if resumed_from and seq_at_reopen:
        out.behind_min = seq_at_reopen - max(resumed_from)
        out.behind_max = (
            seq_at_reopen - min(i for i in resumed_from if i) if any(resumed_from) else 0
        )


def analyse_stayed(
    got: Collected, plan: Plan, sent: list[int], reports: list[dict[str, Any]], out: RunResult
) -> None:
    publishes = got.publishes
    times = got.times
    c = got.counts
    out.stayed_faults = c.duplicates + c.out_of_order + c.disconnects
    started = min(r["started_ns"] for r in reports)
    heads = [h for r in reports for h in r["head_ns"] if h]
    storm_end = max([*heads, started])
    if out.storm_caught_up_ms == out.storm_caught_up_ms:
        storm_end = max(storm_end, started + int(out.storm_caught_up_ms * 1e6))
    groups: dict[str, list[int]] = {}
    for i, phase in enumerate(plan.phases):
        groups.setdefault(phase, []).append(i)
    in_storm = [i for i, s in enumerate(sent) if started <= s <= storm_end]
    lost = 0
    per_entry: list[array[int]] = [array("q") for _ in range(publishes)]
    for r in range(got.readers):
        row = times[r * publishes : (r + 1) * publishes]
        for i, ts in enumerate(row):
            if ts > 0:
                per_entry[i].append(ts - sent[i])
            elif ts == 0:
                lost += 1
    out.stayed_lost = lost
    for phase, indices in groups.items():
        out.phases[phase] = phase_stats(indices, per_entry)
    out.in_storm = phase_stats(in_storm, per_entry)


def phase_stats(indices: list[int], per_entry: list[array[int]]) -> PhaseStats:
    stats = PhaseStats(entries=len(indices))
    if not indices:
        return stats
    delays: list[int] = []
    every: list[float] = []
    for i in indices:
        delays.extend(per_entry[i])
        if per_entry[i]:
            every.append(max(per_entry[i]) / 1e6)
    delays.sort()
    every.sort()
    stats.delivery_p50_ms = percentile(delays, 50) / 1e6
    stats.delivery_p99_ms = percentile(delays, 99) / 1e6
    stats.delivery_max_ms = delays[-1] / 1e6 if delays else math.nan
    stats.every_p50_ms = percentile(every, 50)
    stats.every_max_ms = every[-1] if every else math.nan
    return stats


# --- tables ---------------------------------------------------------------------------------


def fmt(value: float, digits: int = 1) -> str:
    return "—" if value != value else f"{value:,.{digits}f}"


def med(runs: list[RunResult], get: Any) -> float:
    return median([float(get(r)) for r in runs])


def faults(runs: list[RunResult]) -> str:
    return " / ".join(
        str(sum(getattr(r, name) for r in runs)) for name in ("lost", "duplicates", "out_of_order")
    )


def behind(runs: list[RunResult]) -> str:
    low = med(runs, lambda r: r.behind_min)
    high = med(runs, lambda r: r.behind_max)
    return fmt(low, 0) if low == high else f"{fmt(low, 0)} to {fmt(high, 0)}"


def phase_value(r: RunResult, phase: str, attr: str) -> float:
    stats = r.in_storm if phase == "in_storm" else r.phases.get(phase)
    return getattr(stats, attr) if stats is not None else math.nan


def variant_label(variant: str, args: argparse.Namespace) -> str:
    if variant == "memory":
        return f"replay from memory ({args.downtime:g} s away)"
    return f"replay from the log ({args.log_gap:,} entries missed)"


def tables(results: list[RunResult], args: argparse.Namespace) -> list[dict[str, Any]]:
    summary = []
    for variant in ("memory", "log"):
        runs = [r for r in results if r.variant == variant]
        good = [r for r in runs if r.usable]
        if not runs:
            continue
        deploy = runs[0].deploy
        summary.append(
            [
                variant_label(variant, args),
                f"{len(good)}/{len(runs)}",
                f"{runs[0].stayed:,} + {deploy:,}",
                " / ".join(f"{r.complete:,}" for r in runs) + f" of {deploy:,}",
                faults(runs),
                " / ".join(str(r.server_closes) for r in good) or "—",
                behind(good),
                fmt(med(good, lambda r: r.heads_ms_p50)),
                fmt(med(good, lambda r: r.heads_ms_p99)),
                fmt(med(good, lambda r: r.storm_heads_ms)),
                fmt(med(good, lambda r: r.storm_caught_up_ms)),
                fmt(med(good, lambda r: r.storm_cpu_us_per_reader), 0),
                fmt(med(good, lambda r: r.catchup_cpu_ms_per_reader)),
                fmt(med(good, lambda r: phase_value(r, BEFORE, "delivery_p99_ms"))),
                fmt(med(good, lambda r: phase_value(r, STORM, "delivery_p99_ms"))),
                fmt(med(good, lambda r: phase_value(r, STORM, "every_max_ms"))),
            ]
        )
    phase_rows = []
    for variant in ("memory", "log"):
        good = [r for r in results if r.variant == variant and r.usable]
        if not good:
            continue
        rates = {
            BEFORE: f"{args.rate:g}/s",
            DOWNTIME: f"{args.rate:g}/s" if variant == "memory" else "back to back",
            STORM: f"{args.storm_rate:g}/s" if variant == "memory" else f"{args.rate:g}/s",
            AFTER: f"{args.rate:g}/s",
        }
        for phase in (BEFORE, DOWNTIME, STORM, "in_storm", AFTER):
            entries = med(good, lambda r, p=phase: phase_value(r, p, "entries"))
            if not entries or entries != entries:
                continue
            label = (
                "sent between the first reconnect and the last caught up"
                if phase == "in_storm"
                else PHASE_LABELS[phase]
            )
            phase_rows.append(
                [
                    variant,
                    label,
                    fmt(entries, 0),
                    rates.get(phase, "—"),
                    *(
                        fmt(med(good, lambda r, p=phase, a=attr: phase_value(r, p, a)))
                        for attr in (
                            "delivery_p50_ms",
                            "delivery_p99_ms",
                            "delivery_max_ms",
                            "every_p50_ms",
                            "every_max_ms",
                        )
                    ),
                ]
            )
    run_rows = [
        [
            r.variant,
            r.run,
            f"{r.complete:,}/{r.deploy:,}",
            faults([r]),
            r.server_closes,
            r.reconnect_failures,
            behind([r]),
            fmt(r.storm_heads_ms),
            fmt(r.storm_caught_up_ms),
            fmt(r.storm_cpu_us_per_reader, 0),
            fmt(phase_value(r, BEFORE, "delivery_p99_ms")),
            fmt(phase_value(r, STORM, "delivery_p99_ms")),
            f"{r.stayed_lost} / {r.stayed_faults}",
            fmt(r.post_p99_ms),
            fmt(r.rss_mib, 0),
            f"{fmt(r.server_cpu_share, 2)} / {fmt(r.client_cpu_share, 2)} / "
            f"{fmt(r.other_cpu_share, 2)}",
            r.error or ("disturbed: rerun" if r.disturbed else ""),
        ]
        for r in results
    ]
    when = time.strftime("%Y-%m-%d %H:%M %Z")
    notes = [
        f"Measured {when} ({args.source}). One `liveblog serve` per run; {args.stayed:,} "
        f'readers stay connected, {args.deploy:,} "deploy" readers ({args.deploy_processes} '
        "client process) have their sockets closed at once and all reconnect at the same "
        "instant with `Last-Event-ID` = the last SSE id each received. Medians over runs; "
        "a run during which other processes used more than "
        f"{args.max_other_cpu:g} cores is run again (at most {args.retries} times) and left "
        "out of the medians.",
        f"Schedule (memory variant): {args.before:g} s at {args.rate:g} entries/s with every "
        f"reader connected; the deploy readers' sockets close; {args.downtime:g} s at "
        f"{args.rate:g}/s that they miss; they reconnect and {args.storm:g} s at "
        f"{args.storm_rate:g}/s follow (the storm phase), then {args.after:g} s at "
        f"{args.rate:g}/s. Log variant: after 4 s, {args.log_gap:,} entries are POSTed back to "
        "back while the deploy readers are away (more than the hub's "
        f"{RECENT_FRAMES:,}-frame memory, so their replay comes from the log), then they "
        f"reconnect while entries go on at {args.rate:g}/s (the first 2 s: the storm phase); "
        f"there {args.log_deploy:,} readers reconnect and {args.log_stayed:,} stay connected.",
        "complete: deploy readers holding every entry exactly once and in order, counted by "
        "the entries' `bench-N` markers over both connections (faults: lost / duplicated / "
        "out of order). server closes: deploy readers the server closed during the run; "
        f"like a browser's EventSource they came back {args.resume_after:g} s later with "
        "their `Last-Event-ID`. frames behind: the blog's seq at the reconnect minus the id "
        "sent.",
        "head p50/p99 and to last head: from the first reconnect to the kernel receive time of "
        "a reader's new response head; to caught up: to the kernel receive time of the last "
        "missed entry at the last deploy reader. server CPU per reconnect: the server's "
        "CPU time during the reopen call (which returns when every head has arrived, and "
        "includes the fan-out of entries POSTed meanwhile) divided by the deploy readers; per "
        "log replay (log variant): the server's CPU time from the reconnect until every deploy "
        "reader held every entry, divided by the deploy readers.",
        "stayed delivery: kernel receive time (SO_TIMESTAMPNS) at a stayed reader minus the "
        "time just before the POST was sent, over every (stayed reader, entry) pair of the "
        "phase; every reader: per entry, the last stayed reader's receive time.",
        "nginx + nchan is not measured here: it resumes `Last-Event-ID` only from its "
        "in-memory message buffer (16 messages in the peer configuration, lost on restart), "
        "not from a durable log, so there is no comparable catch-up.",
    ]
    out = [
        table(
            "Catch-up: deploy readers reconnect at once with Last-Event-ID",
            [
                "variant",
                "runs",
                "readers (stayed + deploy)",
                "deploy readers complete, per run",
                "faults",
                "server closes, per run",
                "frames behind",
                "head p50 (ms)",
                "head p99 (ms)",
                "to last head (ms)",
                "to caught up (ms)",
                "server CPU per reconnect (µs)",
                "server CPU per log replay (ms)",
                "stayed delivery p99 before (ms)",
                "stayed delivery p99 storm (ms)",
                "stayed every-reader max storm (ms)",
            ],
            summary,
            notes,
        ),
        table(
            "Catch-up: live delivery to the readers who stayed connected, by phase",
            [
                "variant",
                "phase",
                "entries",
                "rate",
                "delivery p50 (ms)",
                "delivery p99 (ms)",
                "delivery max (ms)",
                "every reader p50 (ms)",
                "every reader max (ms)",
            ],
            phase_rows,
            ["Medians over runs of each phase's figures."],
        ),
        table(
            "Catch-up: every run, in the order run",
            [
                "variant",
                "run",
                "complete",
                "faults",
                "server closes",
                "reconnect failures",
                "frames behind",
                "to last head (ms)",
                "to caught up (ms)",
                "CPU/reconnect (µs)",
                "stayed p99 before (ms)",
                "stayed p99 storm (ms)",
                "stayed lost / other faults",
                "POST p99 (ms)",
                "server RSS (MiB)",
                "CPU server / clients / other (cores)",
                "error",
            ],
            run_rows,
        ),
    ]
    restarts = [r for r in results if r.variant == RESTART]
    if restarts:
        out.append(restart_table(restarts, args, fmt, faults))
    return out + targets(results, args) + shared_targets(results)


def targets(results: list[RunResult], args: argparse.Namespace) -> list[dict[str, Any]]:
    mem = [r for r in results if r.variant == "memory"]
    good = [r for r in mem if r.usable]
    if not good:
        return []
    deploy = good[0].deploy
    complete = min(r.complete for r in mem)
    bad = sum(r.lost + r.duplicates + r.out_of_order for r in mem)
    p99 = med(good, lambda r: phase_value(r, STORM, "delivery_p99_ms"))
    worst = max(phase_value(r, STORM, "delivery_p99_ms") for r in good)
    rows = [
        [
            f"catch-up: {deploy:,} readers reconnect at once with Last-Event-ID",
            "all resume, nothing lost or duplicated",
            f"{complete:,}/{deploy:,} complete in every run; {bad} faults",
            "met" if complete == deploy and not bad else "**not met**",
        ],
        [
            f"live delivery p99 of the {good[0].stayed:,} stayed readers during the storm",
            "≤ 250 ms",
            f"{p99:.1f} ms (worst run {worst:.1f} ms)",
            "met" if p99 <= 250 else "**not met**",
        ],
    ]
    log_runs = [r for r in results if r.variant == "log" and not r.error]
    if log_runs:
        r = log_runs[-1]
        rows.append(
            [
                f"the same with the replay from the log ({r.behind_min:,}+ frames behind)",
                "all resume, nothing lost or duplicated",
                f"{r.complete:,}/{r.deploy:,} complete; {faults([r])} faults; "
                f"{r.server_closes} server closes",
                "met" if r.complete == r.deploy and not (r.lost + r.duplicates) else "**not met**",
            ]
        )
    note = "Issue 3, target 4; the memory variant's medians over runs."
    return [table("Issue 3 targets: catch-up", ["target", "goal", "measured", ""], rows, [note])]


def shared_targets(results: list[RunResult]) -> list[dict[str, Any]]:
    """Issue 9: readers resuming from the same stretch of the log share its reads."""
    rows = []
    log_runs = [r for r in results if r.variant == "log" and not r.error]
    if log_runs:
        r = log_runs[-1]
        whole = r.complete == r.deploy and not (r.lost + r.duplicates + r.out_of_order)
        rows.append(
            [
                f"{r.deploy:,} readers {r.behind_min:,} entries behind reconnect at once",
                "all complete in under 3 s",
                f"{r.complete:,}/{r.deploy:,} complete in {fmt(r.storm_caught_up_ms)} ms",
                "met" if whole and r.storm_caught_up_ms < 3000 else "**not met**",
            ]
        )
        p99 = phase_value(r, STORM, "delivery_p99_ms")
        rows.append(
            [
                f"live delivery p99 of the {r.stayed:,} readers who stayed, meanwhile",
                "under 100 ms",
                f"{fmt(p99)} ms (sent during the catch-up: {fmt(r.in_storm.delivery_p99_ms)} ms)",
                "met" if p99 < 100 and r.in_storm.delivery_p99_ms < 100 else "**not met**",
            ]
        )
    restarts = [r for r in results if r.variant == RESTART and not r.error]
    if restarts:
        r = restarts[-1]
        bad = r.lost + r.duplicates + r.out_of_order + r.reconnect_failures
        rows.append(
            [
                f"{r.deploy:,} readers reconnect at once after a restart",
                "zero faults",
                f"{r.complete:,}/{r.deploy:,} complete; {faults([r])} faults; "
                f"{r.reconnect_failures} reconnect failures",
                "met" if r.complete == r.deploy and not bad else "**not met**",
            ]
        )
    if not rows:
        return []
    note = "Issue 9, target 4; the last run of each variant."
    return [
        table("Issue 9 targets: shared catch-up", ["target", "goal", "measured", ""], rows, [note])
    ]


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.catchup", description=__doc__)
    parser.add_argument("--stayed", type=int, default=2000, help="readers that stay connected")
    parser.add_argument("--deploy", type=int, default=1000, help="readers that reconnect")
    parser.add_argument("--runs", type=int, default=3, help="runs of the memory variant")
    parser.add_argument("--rate", type=float, default=2.0, help="entries per second")
    parser.add_argument("--before", type=float, default=10.0, help="seconds before the storm")
    parser.add_argument("--downtime", type=float, default=3.0, help="seconds the deploy is away")
    parser.add_argument("--storm", type=float, default=2.0, help="seconds of the storm phase")
    parser.add_argument("--storm-rate", type=float, default=10.0, help="entries/s in the storm")
    parser.add_argument("--after", type=float, default=5.0, help="seconds after the storm")
    parser.add_argument(
        "--log-gap", type=int, default=1100, help="entries missed in the log variant (0: skip)"
    )
    parser.add_argument("--log-stayed", type=int, default=200, help="stayed readers, log variant")
    parser.add_argument(
        "--log-deploy", type=int, default=1000, help="reconnecting readers, log variant"
    )
    parser.add_argument(
        "--log-collect-wait",
        type=float,
        default=120.0,
        help="seconds the log variant's deploy readers may take to get every entry",
    )
    parser.add_argument(
        "--restart-readers",
        type=int,
        default=10000,
        help="readers reconnecting after a server restart (0: skip that variant)",
    )
    parser.add_argument(
        "--restart-gap", type=int, default=20, help="entries published to the new process first"
    )
    parser.add_argument("--deploy-processes", type=int, default=1)
    parser.add_argument(
        "--resume-after", type=float, default=3.0, help="EventSource retry after a server close"
    )
    parser.add_argument("--client-nice", type=int, default=10)
    parser.add_argument("--batch", type=int, default=250, help="connects in flight per process")
    parser.add_argument("--connect-timeout", type=float, default=120.0)
    parser.add_argument("--collect-wait", type=float, default=30.0)
    parser.add_argument("--gap-timeout", type=float, default=120.0)
    parser.add_argument("--keep-workdir", action="store_true")
    parser.add_argument("--max-other-cpu", type=float, default=0.25)
    parser.add_argument("--retries", type=int, default=2, help="reruns per disturbed run")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=300.0,
        help="seconds to wait before a run for other processes to go quiet",
    )
    parser.add_argument("--out", default="catchup", help="results name")
    return parser.parse_args(argv)


def summary_line(r: RunResult) -> str:
    return (
        f"  deploy complete {r.complete}/{r.deploy}, faults {faults([r])}, server closes "
        f"{r.server_closes}, behind {r.behind_min}-{r.behind_max}; storm: last head "
        f"{fmt(r.storm_heads_ms)} ms, caught up {fmt(r.storm_caught_up_ms)} ms, "
        f"{fmt(r.storm_cpu_us_per_reader, 0)} µs CPU/reconnect, "
        f"{fmt(r.catchup_cpu_ms_per_reader)} ms CPU/log replay; stayed p99 before "
        f"{fmt(phase_value(r, BEFORE, 'delivery_p99_ms'))} ms, storm "
        f"{fmt(phase_value(r, STORM, 'delivery_p99_ms'))} ms, in storm "
        f"({r.in_storm.entries} entries) {fmt(r.in_storm.delivery_p99_ms)} ms; stayed lost "
        f"{r.stayed_lost}; CPU server {fmt(r.server_cpu_share, 2)} clients "
        f"{fmt(r.client_cpu_share, 2)} other {fmt(r.other_cpu_share, 2)}"
        + (f"; {r.error}" if r.error else "")
    )


def save(results: list[RunResult], args: argparse.Namespace) -> Path:
    raw = RESULTS_DIR / "runs" / f"{args.out}.json"
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n")
    return save_results(args.out, tables(results, args))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_file_limit()
    args.source = source_state()
    results: list[RunResult] = []
    started = time.monotonic()
    plan = [("memory", run) for run in range(1, args.runs + 1)]
    if args.log_gap:
        plan.append(("log", 1))
    if args.restart_readers:
        plan.append((RESTART, 1))
    path = RESULTS_DIR
    for variant, run in plan:
        for attempt in range(args.retries + 1):
            log(f"catch-up: {variant} variant, run {run}")
            wait_until_quiet(args.max_other_cpu, args.quiet_wait)
            result = run_one(variant, run, args)
            results.append(result)
            log(summary_line(result))
            busy = result.other_cpu_share > args.max_other_cpu
            if busy and attempt < args.retries:
                result.disturbed = True
                log(f"  other processes used {result.other_cpu_share:.2f} cores: running again")
            path = save(results, args)
            if not result.disturbed:
                break
    log(f"catch-up done in {time.monotonic() - started:.0f} s: {path}")
    bad = any(r.error or r.lost or r.duplicates or r.out_of_order for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
