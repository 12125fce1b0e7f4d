"""Which server protocol: uvicorn's subclassed (web/fastpath.py) or ours in front of it
(web/front.py)? Both fan out the same way once a stream is handed over; they differ in how a
request's head is read. Interleaved in one session, run by run, at 10,000 readers.

The composition is preferred when its median every-reader p50 is no more than 5% above the
subclass's (issue 9); the table says which holds.

    python -m bench.seam                       # 5 runs each at 10,000 readers
    python -m bench.seam --readers 1000 --runs 1   # a quick look
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.common import (
    RESULTS_DIR,
    log,
    median,
    raise_file_limit,
    save_results,
    source_state,
    table,
)
from bench.fanout import RunResult, faults, fmt, parse_args, probe_frame, session, summary_line

NAME = "seam"
KINDS = ("liveblog", "composition")
LABELS = {"liveblog": "subclass (web/fastpath.py)", "composition": "composition (web/front.py)"}
THRESHOLD = 1.05


def paired_ratio(results: list[RunResult], readers: int) -> float:
    """Median over runs of composition / subclass every-reader p50, each pair run back to back."""
    by_run: dict[int, dict[str, float]] = {}
    for r in results:
        if r.readers == readers and r.usable:
            by_run.setdefault(r.run, {})[r.server] = r.every_p50_ms
    ratios = [
        p["composition"] / p["liveblog"] for p in by_run.values() if len(p) == 2 and p["liveblog"]
    ]
    return median(ratios)


def tables(results: list[RunResult]) -> list[dict[str, Any]]:
    rows = []
    verdicts = []
    for readers in sorted({r.readers for r in results}):
        medians = {}
        for kind in KINDS:
            runs = [r for r in results if r.readers == readers and r.server == kind]
            good = [r for r in runs if r.usable]
            if not runs:
                continue

            def med(attr: str, good: list[RunResult] = good) -> float:
                return median([getattr(r, attr) for r in good])

            medians[kind] = med("every_p50_ms")
            rows.append(
                [
                    f"{readers:,}",
                    LABELS[kind],
                    f"{len(good)}/{len(runs)}",
                    fmt(med("every_p50_ms")),
                    fmt(med("every_max_ms")),
                    fmt(med("delivery_p50_ms")),
                    fmt(med("delivery_p99_ms")),
                    fmt(med("cpu_us_per_delivery")),
                    fmt(med("connect_cpu_us_per_reader"), 0),
                    faults(runs),
                ]
            )
        if len(medians) == 2:
            of_medians = medians["composition"] / medians["liveblog"]
            pairs = paired_ratio(results, readers)
            holds = of_medians <= THRESHOLD
            verdicts.append(
                [
                    f"{readers:,}",
                    f"{of_medians:.3f}\N{MULTIPLICATION SIGN}",
                    f"{pairs:.3f}\N{MULTIPLICATION SIGN}",
                    "composition" if holds else "subclass",
                ]
            )
    return [
        table(
            "Server protocol: every reader's delivery, subclass and composition interleaved",
            [
                "readers",
                "protocol",
                "runs",
                "every reader p50 (ms)",
                "every reader max (ms)",
                "delivery p50 (ms)",
                "delivery p99 (ms)",
                "CPU per delivery (µs)",
                "connect CPU per reader (µs)",
                "faults",
            ],
            rows,
            [
                "Medians over the usable runs. Faults: lost / duplicated / out of order / "
                "disconnected readers, summed over runs."
            ],
        ),
        table(
            "Server protocol: the choice (composition preferred within 5% of the subclass)",
            ["readers", "median p50, composition ÷ subclass", "median of paired ratios", "choice"],
            verdicts,
            [
                "The rule of issue 9: prefer the composition if its median every-reader p50 is "
                "no more than 5% above the subclass's."
            ],
        ),
    ]


def save(results: list[RunResult]) -> Path:
    raw = RESULTS_DIR / "runs" / f"{NAME}.json"
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n")
    return save_results(NAME, tables(results))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.seam", description=__doc__)
    parser.add_argument("--readers", default="10000")
    parser.add_argument("--runs", type=int, default=5)
    own, rest = parser.parse_known_args(argv)
    args = parse_args(
        [
            "fanout",
            "--readers",
            own.readers,
            "--runs",
            str(own.runs),
            "--servers",
            ",".join(KINDS),
            *rest,
        ]
    )
    raise_file_limit()
    args.source = source_state()
    _, data = probe_frame(args)
    started = time.monotonic()
    results = session(args, data, save)
    path = save(results)
    for r in results:
        log(f"{r.server} {r.readers} run {r.run}: " + summary_line(r))
    log(f"seam done in {time.monotonic() - started:.0f} s: {path}")
    return 1 if any(r.error or r.lost or r.duplicates or r.out_of_order for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
