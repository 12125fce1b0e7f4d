"""Operations endpoints over real HTTP: /healthz against real databases, /metrics around real
streams and writes, and JSON logs from a real `liveblog serve` process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import PG_ADMIN_URL, LiveServer, Tokens, auth, free_port
from sse import take

SLUG = "election-night"
STREAM = f"/api/blogs/{SLUG}/stream"
DROPPED_BUFFER = 'liveblog_readers_dropped_total{reason="buffer"}'
DROPPED_STALL = 'liveblog_readers_dropped_total{reason="stall"}'


def scrape(http: httpx.Client) -> dict[str, float]:
    """Every sample of /metrics, keyed like the exposition writes it (labels sorted)."""
    response = http.get("/metrics")
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return samples


def wait_for(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@contextmanager
def server(db_url: str, tmp_path: Path, **settings: object) -> Iterator[LiveServer]:
    live = LiveServer(db_url, tmp_path, **settings).start()
    try:
        yield live
    finally:
        live.stop()


@contextmanager
def stream(base_url: str, headers: dict[str, str] | None = None) -> Iterator[httpx.Response]:
    """A stream on a connection of its own, as EventSource opens it (so the lean path is used
    when enabled)."""
    with (
        httpx.Client(base_url=base_url, timeout=10) as fresh,
        fresh.stream("GET", STREAM, headers=headers) as response,
    ):
        assert response.status_code == 200
        yield response


def stalled_reader(url: str) -> socket.socket:
    """A reader that asks for the stream and never reads, with a tiny receive window."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.sendall(f"GET {STREAM} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return sock


# --- /healthz ---------------------------------------------------------------------------------


def test_healthz_is_ok_on_sqlite(http: httpx.Client) -> None:
    """With the SQLite database answering, /healthz is 200 ok and must not be cached."""
    response = http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert response.headers["cache-control"] == "no-store"


def test_healthz_is_ok_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    """With the PostgreSQL database answering, /healthz is 200 ok."""
    with server(pg_url, tmp_path) as live:
        response = httpx.get(f"{live.url}/healthz", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "bridge": "listening"}


def test_healthz_is_503_when_the_postgresql_database_is_gone(pg_url: str, tmp_path: Path) -> None:
    """Once the node's PostgreSQL database is dropped under it (its connections killed),
    /healthz answers 503 with a JSON reason, every time, without leaking connection details."""
    name = pg_url.rsplit("/", 1)[1]
    with server(pg_url, tmp_path) as live, httpx.Client(base_url=live.url, timeout=10) as http:
        assert http.get("/healthz").status_code == 200
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        for _ in range(2):  # a dead pooled connection, then a failed new one
            started = time.monotonic()
            response = http.get("/healthz")
            assert response.status_code == 503
            assert time.monotonic() - started < 5
            body = response.json()
            assert body["status"] == "unavailable"
            assert body["database"].startswith("error (")
            assert name not in body["database"]
            assert response.headers["cache-control"] == "no-store"


# --- /metrics ---------------------------------------------------------------------------------


def test_metrics_is_prometheus_text_naming_every_liveblog_metric(http: httpx.Client) -> None:
    """/metrics answers Prometheus text, uncached, with each of our metrics present from start."""
    response = http.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert response.headers["cache-control"] == "no-store"
    samples = scrape(http)
    for name in (
        "liveblog_stream_readers",
        "liveblog_events_committed_total",
        "liveblog_events_fanned_out_total",
        "liveblog_fanout_seconds_count",
        "liveblog_publish_seconds_count",
        DROPPED_BUFFER,
        DROPPED_STALL,
    ):
        assert name in samples, name


@pytest.mark.parametrize("path", ["fast", "asgi"])
def test_readers_gauge_follows_an_open_stream(
    path: str, db_url: str, tmp_path: Path, tokens: Tokens
) -> None:
    """On either stream path the readers gauge goes up by one while a stream is open and back
    down when the reader leaves."""
    with (
        server(db_url, tmp_path, fast_stream=path == "fast") as live,
        httpx.Client(base_url=live.url, timeout=10) as http,
    ):
        http.post("/api/blogs", json={"slug": SLUG, "title": "Vote"}, headers=auth(tokens.editor))

        def readers() -> float:
            return scrape(http)["liveblog_stream_readers"]

        before = readers()
        with stream(live.url):
            assert wait_for(lambda: readers() == before + 1)
        assert wait_for(lambda: readers() == before)


def test_a_published_entry_is_counted_committed_fanned_out_and_timed(
    live: LiveServer, http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """One entry published to a blog with a reader counts one committed event, one fanned-out
    event, one fan-out latency and one publish latency observation."""
    with stream(live.url) as response:
        before = scrape(http)
        r = http.post(
            f"/api/blogs/{SLUG}/entries", json={"body": "Polls"}, headers=auth(tokens.editor)
        )
        assert r.status_code == 201
        (frame,) = take(response, 1)
        assert frame.id == 1
        after = scrape(http)
    for name in (
        "liveblog_events_committed_total",
        "liveblog_events_fanned_out_total",
        "liveblog_fanout_seconds_count",
        "liveblog_publish_seconds_count",
    ):
        assert after[name] - before[name] == 1, name
    assert after["liveblog_fanout_seconds_sum"] > before["liveblog_fanout_seconds_sum"]


def test_a_refused_write_is_not_timed_as_a_publish(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """A write the service refuses (a contributor publishing) neither commits an event nor
    counts as a publish."""
    before = scrape(http)
    r = http.post(
        f"/api/blogs/{SLUG}/entries", json={"body": "Leak"}, headers=auth(tokens.contributor)
    )
    assert r.status_code == 403
    after = scrape(http)
    for name in ("liveblog_events_committed_total", "liveblog_publish_seconds_count"):
        assert after[name] == before[name], name


def test_a_reader_cut_off_for_its_buffer_is_counted(
    db_url: str, tmp_path: Path, tokens: Tokens
) -> None:
    """A reader that stops reading while large entries keep coming is cut off past the buffer
    limit, and the buffer drop counter rises."""
    with (
        server(db_url, tmp_path, reader_buffer_bytes=64 * 1024) as live,
        httpx.Client(base_url=live.url, headers=auth(tokens.editor), timeout=10) as http,
    ):
        http.post("/api/blogs", json={"slug": SLUG, "title": "Vote"})
        before = scrape(http)[DROPPED_BUFFER]
        stalled = stalled_reader(live.url)
        assert wait_for(lambda: scrape(http)["liveblog_stream_readers"] >= 1)
        body = "word " * 8_000  # ~80 KB per frame with its html
        for _ in range(12):
            assert http.post(f"/api/blogs/{SLUG}/entries", json={"body": body}).status_code == 201
        assert wait_for(lambda: scrape(http)[DROPPED_BUFFER] == before + 1)
        stalled.close()


def test_a_reader_cut_off_for_stalling_is_counted(
    db_url: str, tmp_path: Path, tokens: Tokens
) -> None:
    """A reader whose socket stops draining is cut off after the stall time, and the stall drop
    counter rises."""
    with (
        server(db_url, tmp_path, stall_seconds=0.5, keepalive_seconds=0.2) as live,
        httpx.Client(base_url=live.url, headers=auth(tokens.editor), timeout=10) as http,
    ):
        http.post("/api/blogs", json={"slug": SLUG, "title": "Vote"})
        before = scrape(http)[DROPPED_STALL]
        stalled = stalled_reader(live.url)
        assert wait_for(lambda: scrape(http)["liveblog_stream_readers"] >= 1)
        body = "word " * 4_000  # well under the 256 KiB buffer limit in total
        for _ in range(3):
            assert http.post(f"/api/blogs/{SLUG}/entries", json={"body": body}).status_code == 201
        assert wait_for(lambda: scrape(http)[DROPPED_STALL] == before + 1)
        stalled.close()


# --- logs -------------------------------------------------------------------------------------


def run_server(tmp_path: Path, *args: str, **env: str) -> list[str]:
    """Start `liveblog serve`, ask for /healthz once, stop it, and return its stderr lines."""
    port = free_port()
    log = tmp_path / "stderr.log"
    with log.open("wb") as stderr:
        command = [sys.executable, "-m", "liveblog", "serve", f"--data-dir={tmp_path}"]
        proc = subprocess.Popen(
            [*command, f"--port={port}", *args],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "LIVEBLOG_DATABASE_URL": "", **env},
        )
        try:

            def healthy() -> bool:
                try:
                    return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
                except httpx.TransportError:
                    return False

            assert wait_for(healthy, 20), log.read_text()
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    return log.read_text().splitlines()


def test_json_log_format_writes_one_json_object_per_line(tmp_path: Path) -> None:
    """With LIVEBLOG_LOG_FORMAT=json every stderr line, uvicorn's startup and access lines
    included, is a JSON object with time, level, logger and message."""
    lines = run_server(tmp_path, LIVEBLOG_LOG_FORMAT="json")
    records = [json.loads(line) for line in lines if line.strip()]
    assert records
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys(), record
        assert "color_message" not in record
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert any("GET /healthz" in r["message"] and r["level"] == "INFO" for r in access)
    assert any("Application startup complete" in r["message"] for r in records)


def test_log_level_flag_still_filters_json_logs(tmp_path: Path) -> None:
    """`--log-level warning` silences info lines (startup, access) in JSON mode too."""
    lines = run_server(tmp_path, "--log-level", "warning", LIVEBLOG_LOG_FORMAT="json")
    records = [json.loads(line) for line in lines if line.strip()]
    assert all(r["level"] not in ("INFO", "DEBUG") for r in records), records
