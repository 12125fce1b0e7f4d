"""The one list of what a change makes stale in a shared cache (a CDN, nginx's proxy_cache).

Every public response of a blog is cached by its path and query, validated by an ETag derived
from the blog's seq, so any change to a blog makes all of them stale. Exact paths are listed;
query families that cannot be enumerated (older pages by cursor, the API's pages, catch-up from
far behind) are listed as a prefix ending in `*`, which a target that can purge by prefix sends
as such and any other target skips (those copies then live at most `s-maxage`).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from liveblog.domain.site import api_path, blog_path

EVENTS_WINDOW = 16
"""`events?after=N` is purged for the last N seqs before the change, where live readers poll."""

SITE_PATHS = ("/", "/api/blogs", "/feed.atom", "/feed.rss", "/feed.json", "/sitemap.xml")


def purge_paths(
    slug: str,
    entry_ids: Iterable[int],
    before_seq: int,
    site_base: str = "",
    urls: Iterable[str] = (),
) -> list[str]:
    """The paths a change to blog `slug` makes stale: the blog's pages, API views, feeds and
    event responses, each touched entry's permalink and JSON, the site's lists, and the
    renditions withdrawn (`urls` on the site's own `site_base`; renditions on another host,
    an object store's public URL, are that host's to purge and left out). `before_seq` is the
    blog's seq before the change."""
    blog = blog_path(slug)
    api = api_path(slug)
    paths = [
        blog,
        f"{blog}/lite",
        f"{blog}/embed",
        f"{blog}/feed.atom",
        f"{blog}/feed.rss",
        f"{blog}/feed.json",
        api,
        f"{api}/entries",
        f"{api}/events",
    ]
    for entry_id in sorted(set(entry_ids)):
        paths += [f"{blog}/entries/{entry_id}", f"{api}/entries/{entry_id}"]
    first = max(0, before_seq - EVENTS_WINDOW + 1)
    paths += [f"{api}/events?after={n}" for n in range(first, before_seq + 1)]
    paths += [f"{blog}?*", f"{blog}/lite?*", f"{api}/entries?*", f"{api}/events?*"]
    paths += SITE_PATHS
    for url in urls:
        if site_base and url.startswith(site_base + "/"):
            paths.append(url[len(site_base) :])
        elif url.startswith("/"):
            paths.append(urlsplit(url).path)
    return list(dict.fromkeys(paths))


def is_prefix(path: str) -> bool:
    return path.endswith("*")
