"""Reader page benchmark: `liveblog serve` against nginx serving the same bytes as a static
file, interleaved in one run (wrk, 64 connections), plus page render time against blog length.

    python -m bench.page [--runs 3] [--seconds 10]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import LiveblogServer, log, median, save_results, table
from bench.peer import NchanServer, ensure_packages
from bench.seed import seed_blog
from liveblog.domain.site import Site

SLUG = "long-blog"
# Structured data and social tags name the site; the render benchmark needs one.
BENCH_SITE = Site(base_url="http://127.0.0.1:8000")
SIZES = (100, 1_000, 10_000, 100_000)


def wrk(url: str, seconds: int, headers: dict[str, str] | None = None) -> float:
    """Requests per second from wrk (one thread: the server gets the other core)."""
    command = ["wrk", "-t1", "-c64", f"-d{seconds}s"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 30)
    match = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out.stdout)
    if match is None or (non_2xx and int(non_2xx.group(1)) > 0):
        raise RuntimeError(f"wrk failed on {url}:\n{out.stdout}\n{out.stderr}")
    return float(match.group(1))


def throughput(workdir: Path, runs: int, seconds: int) -> list[dict[str, object]]:
    ours = LiveblogServer(workdir / "ours")
    ours.data_dir.mkdir(parents=True)
    seed_blog(f"sqlite:///{(ours.data_dir / 'liveblog.sqlite3').resolve()}", SLUG, 10_000)
    ours.start()
    try:
        assert ours.client is not None
        page = ours.client.request("GET", f"/blogs/{SLUG}")
        if page.status != 200:
            raise RuntimeError(f"page: {page.status}")
        etag = page.headers["etag"]
        visible = page.body.count(b'<article class="entry')
        sizes = {
            coding: len(
                ours.client.request(
                    "GET", f"/blogs/{SLUG}", headers={"Accept-Encoding": coding}
                ).body
            )
            for coding in ("br", "gzip")
        }
        peer = NchanServer(workdir / "peer", page=page.body)
        peer.start()
        try:
            assert peer.client is not None
            static = peer.client.request("GET", "/page.html")
            if static.status != 200:
                raise RuntimeError(f"nginx page.html: {static.status}")
            peer_etag = static.headers["etag"]
            url_ours = f"http://127.0.0.1:{ours.port}/blogs/{SLUG}"
            url_peer = peer.url("/page.html")
            results: dict[str, list[float]] = {
                k: [] for k in ("o200", "p200", "o304", "p304", "o200br")
            }
            for run in range(runs):
                log(f"page run {run + 1}/{runs}")
                results["o200"].append(wrk(url_ours, seconds))
                results["p200"].append(wrk(url_peer, seconds))
                results["o304"].append(wrk(url_ours, seconds, {"If-None-Match": etag}))
                results["o200br"].append(wrk(url_ours, seconds, {"Accept-Encoding": "br"}))
                results["p304"].append(wrk(url_peer, seconds, {"If-None-Match": peer_etag}))
        finally:
            peer.stop()
    finally:
        ours.stop()
    med = {k: median(v) for k, v in results.items()}
    rows = [
        [
            "full page (200)",
            f"{len(page.body):,} B",
            f"{med['o200']:,.0f}",
            f"{med['p200']:,.0f}",
            f"{med['o200'] / med['p200']:.0%}",
        ],
        [
            "full page, brotli (200)",
            f"{sizes['br']:,} B (gzip {sizes['gzip']:,} B)",
            f"{med['o200br']:,.0f}",
            "—",
            "—",
        ],
        [
            "revalidation (304)",
            "—",
            f"{med['o304']:,.0f}",
            f"{med['p304']:,.0f}",
            f"{med['o304'] / med['p304']:.0%}",
        ],
    ]
    return [
        table(
            f"Reader page: requests/s, median of {runs} interleaved runs "
            f"(wrk -t1 -c64 -d{seconds}s)",
            ["request", "size", "liveblog serve", "nginx static file", "liveblog / nginx"],
            rows,
            [
                f"A blog of 10,000 entries; the page shows {visible} (pinned included). "
                "nginx (one worker) serves the same bytes liveblog rendered, as a static file.",
                "The brotli row asks `Accept-Encoding: br`: the page from memory, compressed once "
                "when it was rendered (nginx has no brotli module in Debian; not compared).",
                "All runs: "
                + ", ".join(f"{k}={[round(x) for x in v]}" for k, v in results.items()),
            ],
        )
    ]


def render_times(workdir: Path, repeats: int = 30) -> list[dict[str, object]]:
    """Rendering a page from the store (the cache-miss path) for ever longer blogs."""
    from liveblog.broadcast.base import NullHub
    from liveblog.service import Liveblog
    from liveblog.storage.sql import SqlStore
    from liveblog.web.reader import _render_blog_page

    rows = []
    for size in SIZES:
        url = f"sqlite:///{workdir / f'render-{size}.sqlite3'}"
        log(f"seeding {size:,} entries")
        seed_blog(url, SLUG, size)
        store = SqlStore(url)
        svc = Liveblog(store, NullHub())
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            _render_blog_page(svc, BENCH_SITE, SLUG, None)
            timings.append((time.perf_counter() - started) * 1000)
        store.close()
        timings.sort()
        rows.append(
            [f"{size:,}", f"{median(timings):.2f}", f"{timings[int(len(timings) * 0.9)]:.2f}"]
        )
    return [
        table(
            "Page render time (cache miss: read from SQLite and render) by blog length",
            ["entries in the blog", "median ms", "p90 ms"],
            rows,
            [
                f"{repeats} renders each, in-process; the page shows the newest 50 and the "
                "pinned one."
            ],
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    ensure_packages()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed (Debian package wrk)")
    workdir = Path(tempfile.mkdtemp(prefix="liveblog-page-"))
    workdir.chmod(0o755)  # nginx's worker runs unprivileged and must read html/page.html
    try:
        tables = throughput(workdir, args.runs, args.seconds) + render_times(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    path = save_results("page", tables)
    for t in tables:
        print(t["caption"])
        rows = t["rows"]
        assert isinstance(rows, list)
        for row in rows:
            print("  ", row)
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
