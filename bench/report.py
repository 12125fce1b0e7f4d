"""Assemble every bench/results/*.json into docs/benchmarks.md.

Each results file is a list of tables, `{"caption", "columns", "rows", "notes"}` (see
`bench.common.table`), written by one benchmark script. The page gets the machine and versions,
how to reproduce, then every file's tables. The "Profiling notes" section is written by hand:
it is kept as it is when the page is regenerated.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, ROOT
from bench.peer import versions

DOC = ROOT / "docs" / "benchmarks.md"
# Files in this order first, the rest alphabetically.
ORDER = (
    "fanout", "publish", "seam", "page", "catchup", "slow", "workers", "cross_node", "media",
    "outbox",
)  # fmt: skip
TITLES = {
    "fanout": "Fan-out",
    "publish": "Publish",
    "seam": "Server protocol: subclass or composition",
    "page": "Reader page",
    "catchup": "Catch-up",
    "slow": "Slow readers",
    "workers": "Workers on PostgreSQL",
    "cross_node": "Cross-node delivery",
    "media": "Photo intake",
    "outbox": "Outbox: purges and webhooks",
}
PROFILING = "## Profiling notes"
PROFILING_PLACEHOLDER = (
    "_To be written: where the CPU goes per delivery and per page (py-spy / perf profiles of "
    "`liveblog serve` under the fan-out and page benchmarks)._\n"
)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> list[str]:
    peers = versions()
    return [
        f"- CPU: {cpu_model()}, {os.cpu_count()} cores (server and load clients share them)",
        f"- Kernel: Linux {platform.release()}",
        f"- Python {platform.python_version()}; uvicorn {package_version('uvicorn')}, "
        f"uvloop {package_version('uvloop')}, httptools {package_version('httptools')}",
        f"- nginx {peers.get('nginx', 'not installed')}, "
        f"nchan (libnginx-mod-nchan) {peers.get('nchan', 'not installed')}, "
        f"wrk {peers.get('wrk', 'not installed')}",
        "- Loopback only (127.0.0.1); at most 20,000 open files per process",
    ]


def cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def numeric(value: Any) -> bool:
    return bool(
        re.fullmatch(r"[-+]?[\d,.]+\s*(\u00d7|%|x|ms|µs|s|KiB|KB|MB)?|—|[\d,]+/[\d,]+", str(value))
    )


def markdown_table(spec: dict[str, Any]) -> list[str]:
    columns = [cell(c) for c in spec["columns"]]
    rows = [[cell(v) for v in row] for row in spec["rows"]]
    right = [
        i > 0 and bool(rows) and all(numeric(row[i]) for row in rows if i < len(row))
        for i in range(len(columns))
    ]
    lines = [f"**{spec['caption']}**", ""] if spec.get("caption") else []
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "|".join("---:" if r else "---" for r in right) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    notes = spec.get("notes") or []
    if notes:
        lines.append("")
        lines += [f"- {note}" for note in notes]
    return lines


def results_files(directory: Path) -> list[Path]:
    files = {p.stem: p for p in directory.glob("*.json")}
    first = [files.pop(name) for name in ORDER if name in files]
    return first + [files[name] for name in sorted(files)]


def kept_profiling_notes(doc: Path) -> str:
    """The hand-written Profiling notes of the current page, if any (the section is always
    the page's last, so it may have sub-headings of any level)."""
    if not doc.exists():
        return PROFILING_PLACEHOLDER
    text = doc.read_text()
    start = text.find(PROFILING + "\n")
    if start < 0:
        return PROFILING_PLACEHOLDER
    body = text[start + len(PROFILING) + 1 :]  # the last section: everything to the end
    return body.strip("\n") + "\n" if body.strip() else PROFILING_PLACEHOLDER


def render(directory: Path = RESULTS_DIR, doc: Path = DOC) -> str:
    out = [
        "# Benchmarks",
        "",
        "Measured tables, written by `bench/report.py` from `bench/results/*.json`; do not edit "
        "them by hand (the Profiling notes section is kept when the page is regenerated).",
        "",
        f"Generated {time.strftime('%Y-%m-%d %H:%M %Z')} on:",
        "",
        *machine(),
        "",
        "## How to reproduce",
        "",
        "```sh",
        "make bench                                        # everything",
        'make bench BENCH_ARGS="--readers 1000 --runs 1"    # a quick look',
        ".venv/bin/python -m bench.fanout fanout --readers 10000 --runs 5   # one benchmark",
        ".venv/bin/python -m bench.fanout publish --readers 1,10000",
        ".venv/bin/python -m bench.cluster --readers 1000 --runs 1   # workers, cross-node (quick)",
        ".venv/bin/python -m bench.media --runs 5   # photo intake; --vips-site DIR adds libvips",
        ".venv/bin/python -m bench.outbox --runs 5   # the outbox: publish cost, purge delay",
        ".venv/bin/python -m bench.report                    # rebuild this page",
        "```",
        "",
        "The benchmarks need Debian's `nginx` and `libnginx-mod-nchan` (and `wrk` for the page "
        "benchmark); run as root they install them with apt-get. The peer configuration is "
        "`../shared/peers/nginx-nchan.conf` (override with `BENCH_NCHAN_CONF`). Every run starts "
        "each server fresh; the two servers run interleaved in one session and each ratio "
        "compares runs made back to back, so slow drift of the machine cancels out. The fan-out "
        "and publish benchmarks take about 11 minutes; each step has a time limit, and a run "
        "that fails is reported as failed while the session goes on. `bench.cluster` needs a "
        "PostgreSQL server (`BENCH_PG_ADMIN_URL`, default postgresql://postgres@127.0.0.1:5432/test"
        "): each run creates a database and drops it afterwards.",
        "",
    ]
    for path in results_files(directory):
        try:
            tables = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            out += [f"## {path.stem}", "", f"_Unreadable results file {path.name}: {exc}_", ""]
            continue
        if isinstance(tables, dict):  # tolerate {"tables": [...]}
            tables = tables.get("tables", [])
        out += [f"## {TITLES.get(path.stem, path.stem.replace('_', ' ').capitalize())}", ""]
        out.append(f"From `bench/results/{path.name}`.")
        out.append("")
        for spec in tables:
            out += markdown_table(spec)
            out.append("")
    out += [PROFILING, "", kept_profiling_notes(doc)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__)
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--out", type=Path, default=DOC)
    args = parser.parse_args(argv)
    text = render(args.results, args.out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
