"""Posts and videos from other sites as click-to-load placeholders; other links as cards.

A link that stands alone in its paragraph becomes one of two blocks, written here rather than
by the Markdown renderer, so they do not pass through nh3 and every value in them is escaped:

- an embed placeholder, when the URL is a post or video on a platform in `PLATFORMS`: a plain
  link to the original (all a reader without JavaScript gets, and all a feed reader sees) in a
  container whose data attributes tell static/embeds.js which iframe to build once the reader
  asks for it. Nothing from the third party loads before that click;
- a link card for any other http(s) URL: the domain and the editor's text. The server never
  fetches the page, so the card holds nothing the editor did not write.

`PLATFORMS` is the one table: adding a platform is one entry. Its frame hosts are also the
only hosts the pages' Content-Security-Policy lets frames come from (`frame_sources`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from urllib.parse import SplitResult, parse_qs, quote, urlsplit

# Each aspect is a CSS class in static/embeds.css (embed-16x9, ...) and the iframe's nominal
# width and height. Posts have no fixed ratio; without the platform's own script to resize the
# frame they get a fixed height that fits a typical post.
ASPECTS: Mapping[str, tuple[int, int]] = {
    "16x9": (560, 315),
    "9x16": (325, 578),
    "post": (550, 560),
    "post-tall": (540, 720),
}

# Third-party frames need their own scripts and storage to work. allow-same-origin lets a
# frame be its own origin (it can never reach ours, which is another origin), allow-popups
# lets its links open in a new tab; without allow-top-navigation it cannot move the reader's
# page, and without allow-forms it cannot post anything.
SANDBOX_POST = "allow-scripts allow-same-origin allow-popups allow-popups-to-escape-sandbox"
SANDBOX_VIDEO = SANDBOX_POST + " allow-presentation"
ALLOW_VIDEO = "encrypted-media; fullscreen; picture-in-picture"

# Mastodon posts embed from the instance that holds them, so every instance is a frame host of
# its own. Only a fixed list can be allowed: a pattern for "any instance" would have to let
# frames come from any host at all, which is what frame-src is there to prevent. Posts on other
# instances become link cards.
MASTODON_INSTANCES = (
    "mastodon.social",
    "mastodon.online",
    "mstdn.social",
    "mas.to",
    "journa.host",
)

_YT_ID = r"(?P<id>[A-Za-z0-9_-]{11})"
_YOUTUBE_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com"}
_X_HOSTS = {
    "x.com", "www.x.com", "mobile.x.com", "twitter.com", "www.twitter.com", "mobile.twitter.com",
}  # fmt: skip
_FACEBOOK_HOSTS = {"facebook.com", "www.facebook.com", "m.facebook.com", "web.facebook.com"}
_FB_PAGE = r"(?P<page>[A-Za-z0-9.-]{1,80})"
_FB_POST = "https://www.facebook.com/plugins/post.php?href={href}&show_text=true&width=500"
_FB_VIDEO = "https://www.facebook.com/plugins/video.php?href={href}&show_text=false&width=560"


@dataclass(frozen=True, slots=True)
class Route:
    """One shape of URL on a platform and the iframe URL it becomes.

    `path` must match the URL's whole path; `query` names query parameters that must be
    present, each with the pattern its value must match. Their named groups (and `host`, the
    URL's host) fill `embed`; `canonical`, when set, is the post's own URL rebuilt from those
    groups and passed to `embed` percent-encoded as `href`, for embeds that take a URL.
    """

    path: str
    embed: str
    aspect: str = "post"
    kind: str = "post"
    query: Mapping[str, str] = field(default_factory=dict)
    canonical: str = ""


@dataclass(frozen=True, slots=True)
class Platform:
    """A site whose posts or videos can be embedded."""

    name: str  # as readers see it: "Load content from {name}"
    slug: str  # the placeholder's class: embed-{slug}
    hosts: frozenset[str]  # the hosts of the posts' own URLs, exactly (no subdomains)
    frame_hosts: tuple[str, ...]  # where the iframes come from; https only
    routes: tuple[Route, ...]
    sandbox: str = SANDBOX_POST
    allow: str = ""  # the iframe's permissions policy, only where the frame needs one


PLATFORMS: tuple[Platform, ...] = (
    Platform(
        "YouTube",
        "youtube",
        frozenset(_YOUTUBE_HOSTS | {"youtu.be"}),
        # Privacy-enhanced mode: no cookies until the reader plays the video.
        ("www.youtube-nocookie.com",),
        (
            Route("/watch", "https://www.youtube-nocookie.com/embed/{v}", "16x9", "video",
                  query={"v": r"[A-Za-z0-9_-]{11}"}),
            Route(f"/{_YT_ID}/?", "https://www.youtube-nocookie.com/embed/{id}", "16x9", "video"),
            Route(f"/(?:live|embed)/{_YT_ID}/?", "https://www.youtube-nocookie.com/embed/{id}",
                  "16x9", "video"),
            Route(f"/shorts/{_YT_ID}/?", "https://www.youtube-nocookie.com/embed/{id}", "9x16",
                  "video"),
        ),
        SANDBOX_VIDEO,
        ALLOW_VIDEO,
    ),
    Platform(
        "Vimeo",
        "vimeo",
        frozenset({"vimeo.com", "www.vimeo.com", "player.vimeo.com"}),
        ("player.vimeo.com",),
        (
            # dnt=1: the player sets no cookies and sends no analytics about the reader.
            Route(r"/(?:video/)?(?P<id>\d{1,12})/(?P<h>[0-9a-f]{6,20})/?",
                  "https://player.vimeo.com/video/{id}?h={h}&dnt=1", "16x9", "video"),
            Route(r"/(?:video/|channels/[A-Za-z0-9_-]{1,50}/)?(?P<id>\d{1,12})/?",
                  "https://player.vimeo.com/video/{id}?dnt=1", "16x9", "video"),
        ),
        SANDBOX_VIDEO,
        ALLOW_VIDEO,
    ),
    Platform(
        "X",
        "x",
        frozenset(_X_HOSTS),
        # The frame X's widgets.js would build; dnt=true asks it not to personalise from it.
        ("platform.twitter.com",),
        (
            Route(r"/(?:[A-Za-z0-9_]{1,15}|i/web)/status(?:es)?/(?P<id>\d{1,20})"
                  r"(?:/(?:photo|video)/\d)?/?",
                  "https://platform.twitter.com/embed/Tweet.html?id={id}&dnt=true"),
        ),
    ),
    Platform(
        "Bluesky",
        "bluesky",
        frozenset({"bsky.app"}),
        ("embed.bsky.app",),
        (
            # embed.bsky.app's documented form names the account by its DID. A URL with a
            # handle stays a link card: turning the handle into a DID would mean our server
            # asking Bluesky, and it never fetches from third parties (a handle can also move
            # to another account, a DID cannot).
            Route(r"/profile/(?P<did>did:plc:[a-z2-7]{24}|did:web:[a-z0-9.-]{1,253})"
                  r"/post/(?P<rkey>[A-Za-z0-9._~-]{1,64})/?",
                  "https://embed.bsky.app/embed/{did}/app.bsky.feed.post/{rkey}"),
        ),
    ),
    Platform(
        "Mastodon",
        "mastodon",
        frozenset(MASTODON_INSTANCES),
        MASTODON_INSTANCES,
        (
            Route(r"/@(?P<user>[A-Za-z0-9_]{1,30})/(?P<id>\d{1,20})/?",
                  "https://{host}/@{user}/{id}/embed"),
            Route(r"/users/(?P<user>[A-Za-z0-9_]{1,30})/statuses/(?P<id>\d{1,20})/?",
                  "https://{host}/@{user}/{id}/embed"),
        ),
    ),
    Platform(
        "Telegram",
        "telegram",
        frozenset({"t.me", "telegram.me"}),
        # The frame Telegram's post widget builds.
        ("t.me",),
        (
            Route(r"/(?:s/)?(?P<channel>[A-Za-z][A-Za-z0-9_]{3,31})/(?P<id>\d{1,10})/?",
                  "https://t.me/{channel}/{id}?embed=1"),
        ),
    ),
    Platform(
        "Instagram",
        "instagram",
        frozenset({"instagram.com", "www.instagram.com"}),
        ("www.instagram.com",),
        (
            Route(r"/(?:[A-Za-z0-9_.]{1,30}/)?p/(?P<code>[A-Za-z0-9_-]{5,40})/?",
                  "https://www.instagram.com/p/{code}/embed/", "post-tall"),
            Route(r"/(?:[A-Za-z0-9_.]{1,30}/)?reels?/(?P<code>[A-Za-z0-9_-]{5,40})/?",
                  "https://www.instagram.com/reel/{code}/embed/", "post-tall", "video"),
        ),
    ),
    Platform(
        "TikTok",
        "tiktok",
        frozenset({"tiktok.com", "www.tiktok.com", "m.tiktok.com"}),
        # TikTok's documented embed player (developers.tiktok.com, "Embed Player").
        ("www.tiktok.com",),
        (
            Route(r"/@[A-Za-z0-9_.-]{1,40}/video/(?P<id>\d{8,20})/?",
                  "https://www.tiktok.com/player/v1/{id}", "9x16", "video"),
        ),
        SANDBOX_VIDEO,
        ALLOW_VIDEO,
    ),
    Platform(
        "Facebook",
        "facebook",
        frozenset(_FACEBOOK_HOSTS),
        # Facebook's embedded post and video plugins take the post's URL.
        ("www.facebook.com",),
        (
            Route(rf"/{_FB_PAGE}/posts/(?P<id>[A-Za-z0-9]{{1,80}})/?", _FB_POST,
                  canonical="https://www.facebook.com/{page}/posts/{id}"),
            Route(r"/permalink\.php", _FB_POST,
                  query={"story_fbid": r"[A-Za-z0-9]{1,80}", "id": r"\d{1,20}"},
                  canonical="https://www.facebook.com/permalink.php?story_fbid={story_fbid}&id={id}"),
            Route(rf"/{_FB_PAGE}/videos/(?:[A-Za-z0-9.-]{{1,80}}/)?(?P<id>\d{{1,20}})/?",
                  _FB_VIDEO, "16x9", "video",
                  canonical="https://www.facebook.com/{page}/videos/{id}/"),
            Route(r"/watch/?", _FB_VIDEO, "16x9", "video", query={"v": r"\d{1,20}"},
                  canonical="https://www.facebook.com/watch/?v={v}"),
        ),
        SANDBOX_VIDEO,
        ALLOW_VIDEO,
    ),
)  # fmt: skip

_Compiled = tuple[Platform, Route, re.Pattern[str], dict[str, re.Pattern[str]]]
_COMPILED: tuple[_Compiled, ...] = tuple(
    (p, r, re.compile(r.path), {k: re.compile(v) for k, v in r.query.items()})
    for p in PLATFORMS
    for r in p.routes
)
LINK_REL = "noopener noreferrer nofollow"  # what the sanitiser puts on the body's own links


@dataclass(frozen=True, slots=True)
class Embed:
    """A URL recognised as a post or video on a known platform."""

    platform: Platform
    src: str  # the iframe URL: https, on one of the platform's frame hosts
    aspect: str
    kind: str


def frame_sources() -> tuple[str, ...]:
    """The CSP sources frames may come from: each platform's frame hosts, https only."""
    hosts = dict.fromkeys(h for p in PLATFORMS for h in p.frame_hosts)
    return tuple(f"https://{host}" for host in hosts)


def _web_url(url: str, *, plain: bool) -> SplitResult | None:
    """The URL's parts if it is an http(s) URL with a host; `plain` also refuses user info
    and ports, which no post on a platform we embed has."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if plain and (parts.username is not None or parts.password is not None or port is not None):
        return None
    return parts


def match_embed(url: str) -> Embed | None:
    """The embed a URL stands for, or None when it is not a post or video we know how to
    embed. Hosts must match exactly and every value taken from the URL must match its
    pattern, so look-alike hosts and smuggled characters never reach an iframe URL."""
    parts = _web_url(url, plain=True)
    if parts is None or parts.hostname is None:
        return None
    host = parts.hostname
    query = parse_qs(parts.query)
    for platform, route, path, params in _COMPILED:
        if host not in platform.hosts:
            continue
        found = path.fullmatch(parts.path)
        if found is None:
            continue
        values = {k: v for k, v in found.groupdict().items() if v is not None}
        for name, pattern in params.items():
            given = query.get(name, [])
            if len(given) != 1 or not pattern.fullmatch(given[0]):
                break
            values[name] = given[0]
        else:
            values["host"] = host
            if route.canonical:
                values["href"] = quote(route.canonical.format(**values), safe="")
            src = route.embed.format(**values)
            src_parts = urlsplit(src)
            if src_parts.scheme != "https" or src_parts.hostname not in platform.frame_hosts:
                return None  # a table mistake; never frame from a host the CSP does not name
            return Embed(platform, src, route.aspect, route.kind)
    return None


def display_domain(host: str) -> str:
    """A host as readers should see it: international names in their own script, no www."""
    try:
        shown = host.encode("ascii").decode("idna")
    except UnicodeError:
        shown = host
    return shown.removeprefix("www.")


def _attr(value: str) -> str:
    return escape(value, quote=True)


def standalone_link_html(href: str, text: str, *, editor_text: bool) -> str | None:
    """The block for a link that stands alone in its paragraph: an embed placeholder or a
    link card, or None when the URL is not http(s) (it then stays an ordinary link).
    `text` is what the editor wrote: the link's text, or the URL itself (`editor_text`
    False), which the card shows without its scheme."""
    parts = _web_url(href, plain=False)
    if parts is None or parts.hostname is None:
        return None
    # The card names the host the link really goes to, user info or not ("a.com@b.example").
    domain = display_domain(parts.hostname)
    text = " ".join(text.split())
    if not editor_text:
        text = re.sub(r"^https?://", "", text, flags=re.IGNORECASE)
    embed = match_embed(href)
    if embed is None:
        return _card(href, domain, text or domain)
    return _placeholder(embed, href, domain, text if editor_text else "")


def _card(href: str, domain: str, text: str) -> str:
    return (
        f'<p class="link-card"><a class="link-card-link" href="{_attr(href)}" rel="{LINK_REL}">'
        f'<span class="link-card-domain">{_attr(domain)}</span> '
        f'<span class="link-card-title">{_attr(text)}</span></a></p>\n'
    )


def _placeholder(embed: Embed, href: str, domain: str, text: str) -> str:
    platform = embed.platform
    width, height = ASPECTS[embed.aspect]
    verb = "Watch this video" if embed.kind == "video" else "View this post"
    title = f'<span class="embed-title">{_attr(text)}</span> ' if text else ""
    data = {
        "src": embed.src,
        "platform": platform.name,
        "aspect": embed.aspect,
        "width": str(width),
        "height": str(height),
        "sandbox": platform.sandbox,
        "allow": platform.allow,
        "title": f"{embed.kind.capitalize()} on {platform.name}",
    }
    attrs = " ".join(f'data-embed-{k}="{_attr(v)}"' for k, v in data.items() if v)
    return (
        f'<div class="embed embed-{_attr(platform.slug)}" {attrs}>'
        f'<a class="embed-link" href="{_attr(href)}" rel="{LINK_REL}">'
        f'<span class="embed-cta">{_attr(verb)} on {_attr(platform.name)}</span> {title}'
        f'<span class="embed-domain">{_attr(domain)}</span></a></div>\n'
    )
