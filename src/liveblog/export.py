"""`liveblog export SLUG --out DIR [--watch]`: a self-contained static copy of a live blog —
pages, JSON, pictures (and feeds) — that any static host or mirror can serve, for when the main
site is blocked or down. The copy keeps itself current in readers' browsers by polling its own
`entries.json`; with `--watch` the command keeps the copy in step with the blog, retractions
and their pictures included. Its feeds (feed.atom, feed.rss, feed.json) follow the same
entries; given the copy's address (`--copy-url`) they point at the copy, not the main site."""

from __future__ import annotations

import copy
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from liveblog.domain.errors import NotFound
from liveblog.domain.media import MediaRef
from liveblog.domain.models import Blog, Entry
from liveblog.domain.site import Site
from liveblog.render import feeds as feed_formats
from liveblog.render.jsonview import blog_json, dumps, entry_json
from liveblog.service import Liveblog

PAGE = 50
MAX_ENTRIES = 100_000
STATIC_FILES = ("reader.css", "embeds.css", "embeds.js", "mirror.js")
STATIC = Path(__file__).with_name("web") / "static"


@dataclass(frozen=True, slots=True)
class Exported:
    seq: int
    entries: int
    pictures: int
    pages: int


def _pictures(blog: Blog, entries: Iterable[Entry]) -> dict[str, MediaRef]:
    """Every rendition the copy shows, by name: the entries' pictures and the cover."""
    refs = [ref for e in entries for ref in e.media]
    if blog.cover is not None:
        refs.append(blog.cover)
    return {f.key: ref for ref in refs for f in ref.files}


def _local(html: str, refs: Iterable[MediaRef], folder: str = "media/") -> str:
    """The entry's HTML with each rendition's URL (the app's or an object store's) made a path
    into the copy's own media/ folder (relative, or absolute on the copy's address)."""
    for ref in refs:
        for f in ref.files:
            html = html.replace(f'"{f.url}"', f'"{folder}{f.key}"').replace(
                f"{f.url} ", f"{folder}{f.key} "
            )
    return html


def _localise(entry: Entry) -> Entry:
    entry.html = _local(entry.html, entry.media)
    return entry


Feeds = Callable[[Blog, list[Entry]], dict[str, bytes]]
FEED_SIZE = 50


def copy_feeds(site: Site, copy_url: str | None) -> Feeds:
    """The copy's feed.atom, feed.rss and feed.json (the newest 50 entries). With the copy's
    own address they link to the copy and carry its pictures, so a reader whose feed reader
    cannot reach the main site still gets whole entries; without it, they are the main site's
    feeds, canonical links and all."""

    def build(blog: Blog, entries: list[Entry]) -> dict[str, bytes]:
        # Newest first, as the site's feeds: the pinned entry takes its place by time.
        newest = sorted(entries, key=lambda e: (e.published_at or e.created_at, e.id), reverse=True)
        shown = [copy.copy(e) for e in newest[:FEED_SIZE]]
        if copy_url is not None:
            folder = copy_url.rstrip("/") + "/media/"
            for e in shown:
                e.html = _local(e.html, e.media, folder)
                e.media = [_moved(ref, folder) for ref in e.media]
        doc = feed_formats.blog_feed(site, blog, shown, copy_at=copy_url)
        return {
            "feed.atom": feed_formats.atom(doc),
            "feed.rss": feed_formats.rss(doc),
            "feed.json": feed_formats.json_feed(doc),
        }

    return build


def _moved(ref: MediaRef, folder: str) -> MediaRef:
    return replace(ref, files=tuple(replace(f, url=folder + f.key) for f in ref.files))


def _write(path: Path, data: bytes) -> None:
    """Atomically, so a static host never serves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(temp, path)


def _progress(done: int, total: int, label: str) -> None:
    if not sys.stderr.isatty() or total == 0:
        return
    width = 30
    filled = width * done // total
    sys.stderr.write(f"\r{label}: [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def export_blog(
    svc: Liveblog,
    slug: str,
    out: Path,
    render_page: Callable[..., str],
    feeds: Feeds | None = None,
) -> Exported:
    """Write the copy of `slug` into `out`; remove what it no longer shows (a retracted entry's
    pictures, pages past the end). Returns what was written."""
    snap = svc.snapshot(slug, MAX_ENTRIES)
    blog = snap.blog
    shown = [*snap.pinned, *snap.entries]
    public = [e for e in shown if e.status.value == "published"]
    wanted = _pictures(blog, public)
    media_dir = out / "media"
    media_dir.mkdir(parents=True, exist_ok=True)
    present = {p.name for p in media_dir.iterdir() if p.is_file()}
    missing = sorted(set(wanted) - present)
    for i, key in enumerate(missing, 1):
        data = svc.library.blobs.get(key)
        if data is not None:
            _write(media_dir / key, data)
        _progress(i, len(missing), "pictures")
    for stale in present - set(wanted):
        (media_dir / stale).unlink(missing_ok=True)  # a retracted or edited-away picture
    # From the entries as stored (with the site's picture URLs), before the pages' localising.
    made_feeds = feeds(blog, public) if feeds else {}
    for e in shown:
        _localise(e)
    listed = snap.entries
    pages = max(1, -(-len(listed) // PAGE))
    for number in range(1, pages + 1):
        chunk = listed[(number - 1) * PAGE : number * PAGE]
        name = "index.html" if number == 1 else f"page-{number}.html"
        html = render_page(
            blog=blog,
            pinned=snap.pinned if number == 1 else [],
            entries=chunk,
            page=number,
            pages=pages,
        )
        _write(out / name, html.encode())
        _progress(number, pages, "pages")
    for old in out.glob("page-*.html"):
        if int(old.stem.split("-")[1]) > pages:
            old.unlink()
    cover = None if blog.cover is None else _local_ref(blog.cover)
    state = {**blog_json(blog), "cover": cover}
    body = {"blog": state, "seq": blog.seq, "entries": [entry_json(e) for e in public]}
    _write(out / "entries.json", dumps(body).encode())
    for name in STATIC_FILES:
        _write(out / "static" / name, (STATIC / name).read_bytes())
    for name, data in made_feeds.items():
        _write(out / name, data)
    return Exported(seq=blog.seq, entries=len(public), pictures=len(wanted), pages=pages)


def _local_ref(ref: MediaRef) -> dict[str, object]:
    return {
        "id": ref.id,
        "alt": ref.alt,
        "renditions": [
            {"url": f"media/{f.key}", "width": f.width, "format": f.format} for f in ref.files
        ],
    }


def watch(
    svc: Liveblog,
    slug: str,
    out: Path,
    render_page: Callable[..., str],
    feeds: Feeds | None,
    interval: float,
    rounds: int | None = None,
) -> None:
    """Export again whenever the blog's seq moves, until interrupted (or `rounds` checks)."""
    last = -1
    done = 0
    while rounds is None or done < rounds:
        try:
            seq = svc.blog(slug).seq
        except NotFound:
            print(f"blog {slug!r} is gone; the copy is left as it was", file=sys.stderr)
            return
        if seq != last:
            result = export_blog(svc, slug, out, render_page, feeds)
            last = result.seq
            print(f"exported {slug} at seq {result.seq}: {result.entries} entries", flush=True)
        done += 1
        if rounds is None or done < rounds:
            time.sleep(interval)


def summary(result: Exported) -> str:
    return json.dumps(
        {
            "seq": result.seq,
            "entries": result.entries,
            "pictures": result.pictures,
            "pages": result.pages,
        }
    )
