"""`liveblog export`: a static copy of a live blog that any host can serve, kept in step with
the blog (retractions and their pictures included) and current in readers' browsers."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import feedparser
import httpx
from playwright.sync_api import Browser, expect

from conftest import LiveServer, Tokens, auth, free_port
from pictures import jpeg, photo

SLUG = "election-night"


def liveblog(data: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "LIVEBLOG_DATA_DIR": str(data), "LIVEBLOG_DATABASE_URL": ""}
    return subprocess.Popen(
        [sys.executable, "-m", "liveblog", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def export(data: Path, out: Path, *args: str) -> dict[str, Any]:
    proc = liveblog(data, "export", SLUG, "--out", str(out), *args)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    return result


def post(http: httpx.Client, token: str, **payload: Any) -> dict[str, Any]:
    r = http.post(f"/api/blogs/{SLUG}/entries", json=payload, headers=auth(token))
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def picture(http: httpx.Client, token: str, colour: tuple[int, int, int]) -> dict[str, Any]:
    r = http.post(
        f"/api/blogs/{SLUG}/media",
        files={"file": ("p.jpg", jpeg(photo(colour=colour)), "image/jpeg")},
        data={"alt": "A picture"},
        headers=auth(token),
    )
    data: dict[str, Any] = r.json()
    return data


def test_the_copy_is_self_contained_and_follows_retractions(
    http: httpx.Client, tokens: Tokens, blog: dict, live: LiveServer, tmp_path: Path
) -> None:
    """The copy holds its pages, JSON, scripts and pictures with only relative links; exporting
    again after a retraction removes the entry's text and its pictures from the copy."""
    kept = picture(http, tokens.editor, (10, 80, 10))
    doomed = picture(http, tokens.editor, (120, 10, 10))
    post(http, tokens.editor, headline="Polls open", body="Queues early.", media=[kept["id"]])
    gone = post(http, tokens.editor, body="A claim to withdraw", media=[doomed["id"]])
    out = tmp_path / "copy"
    first = export(tmp_path, out)
    assert first["entries"] == 2 and first["pictures"] >= 4
    index = (out / "index.html").read_text()
    assert "Queues early." in index and "A claim to withdraw" in index
    assert '"/media/' not in index and "/static/" not in index  # all relative
    for name in ("static/reader.css", "static/mirror.js", "entries.json"):
        assert (out / name).is_file(), name
    doomed_keys = {r["url"].rsplit("/", 1)[1] for r in doomed["renditions"]}
    assert doomed_keys <= {p.name for p in (out / "media").iterdir()}
    http.delete(f"/api/blogs/{SLUG}/entries/{gone['id']}", headers=auth(tokens.editor))
    second = export(tmp_path, out)
    assert second["entries"] == 1
    assert "A claim to withdraw" not in (out / "index.html").read_text()
    assert "A claim to withdraw" not in (out / "entries.json").read_text()
    assert not doomed_keys & {p.name for p in (out / "media").iterdir()}
    for name in ("feed.atom", "feed.rss", "feed.json"):
        assert "A claim to withdraw" not in (out / name).read_text(), name


def test_the_copys_feeds_point_at_the_copy(
    http: httpx.Client, tokens: Tokens, blog: dict, live: LiveServer, tmp_path: Path
) -> None:
    """With --copy-url the copy's Atom, RSS and JSON feeds read cleanly, link each entry to its
    anchor on the copy's page and take pictures from the copy's media folder, which holds them;
    a retraction leaves all three at the next export."""
    shot = picture(http, tokens.editor, (10, 10, 140))
    kept = post(
        http, tokens.editor, headline="Count begins", body="Ballots arrive.", media=[shot["id"]]
    )
    gone = post(http, tokens.editor, body="An early figure, withdrawn")
    copy_url = "https://mirror.example/election"
    out = tmp_path / "copy"
    export(tmp_path, out, "--copy-url", copy_url + "/")
    for name in ("feed.atom", "feed.rss"):
        parsed = feedparser.parse((out / name).read_bytes())
        assert not parsed.bozo, (name, parsed.bozo_exception)
        links = [e.link for e in parsed.entries]
        assert f"{copy_url}/#entry-{kept['id']}" in links, (name, links)
    index = (out / "index.html").read_text()
    assert all(f'href="feed.{kind}"' in index for kind in ("atom", "rss", "json"))
    doc = json.loads((out / "feed.json").read_text())
    assert doc["home_page_url"] == copy_url + "/" and doc["feed_url"] == copy_url + "/feed.json"
    item = next(i for i in doc["items"] if i["url"].endswith(f"#entry-{kept['id']}"))
    assert "image" in item and item["image"].startswith(copy_url + "/media/")
    assert (out / "media" / item["image"].rsplit("/", 1)[1]).is_file()
    assert f'"{copy_url}/media/' in item["content_html"] and '"/media/' not in item["content_html"]
    http.delete(f"/api/blogs/{SLUG}/entries/{gone['id']}", headers=auth(tokens.editor))
    export(tmp_path, out, "--copy-url", copy_url)
    for name in ("feed.atom", "feed.rss", "feed.json"):
        text = (out / name).read_text()
        assert "An early figure, withdrawn" not in text and "Ballots arrive." in text, name


def test_watch_keeps_the_copy_in_step_and_open_pages_reload(
    http: httpx.Client,
    tokens: Tokens,
    blog: dict,
    live: LiveServer,
    tmp_path: Path,
    browser: Browser,
) -> None:
    """With --watch a new entry reaches the copy within seconds, and a reader who has the
    copy open sees it without reloading by hand (the page polls its own entries.json)."""
    post(http, tokens.editor, body="First update")
    out = tmp_path / "copy"
    watcher = liveblog(tmp_path, "export", SLUG, "--out", str(out), "--watch", "--interval", "0.2")
    mirror = http_server(out)
    try:
        wait_for(lambda: (out / "index.html").is_file())
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{mirror}/index.html?poll=1")
        expect(page.locator("main")).to_contain_text("First update")
        post(http, tokens.editor, headline="Second", body="Counting has started")
        wait_for(lambda: "Counting has started" in (out / "index.html").read_text())
        expect(page.locator("main")).to_contain_text("Counting has started", timeout=10_000)
        context.close()
    finally:
        watcher.terminate()
        watcher.wait(10)


def http_server(root: Path) -> str:
    port = free_port()
    handler = partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{port}"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def wait_for(condition: Any, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
