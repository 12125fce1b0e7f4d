"""The site a blog is published on: its public address and names, as readers, search engines
and feed readers are told them. Canonical URLs, feeds and structured data are built from this,
never from a request's Host header (which a client chooses)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


def blog_path(slug: str, rest: str = "") -> str:
    """`/blogs/<slug><rest>` with the slug percent-encoded (a slug may be Cyrillic or Arabic):
    every URL we emit names a blog this way."""
    return f"/blogs/{quote(slug, safe='')}{rest}"


def api_path(slug: str, rest: str = "") -> str:
    return f"/api{blog_path(slug, rest)}"


@dataclass(frozen=True, slots=True)
class Site:
    base_url: str
    """e.g. https://live.example.org, with no trailing slash."""
    name: str = "Liveblog"
    publisher_name: str = "Liveblog"
    publisher_logo: str | None = None
    """An absolute URL of the publisher's logo."""
    share_image: str | None = None
    """An absolute URL of the image shared when a blog has no cover."""
    frame_origins: tuple[str, ...] = ()
    """Partner origins allowed to frame the reader pages."""

    def url(self, path: str) -> str:
        """An absolute URL on this site for a path beginning with /."""
        return self.base_url + path
