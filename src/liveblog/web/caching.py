"""What public responses tell caches, in one place (pages, JSON, feeds, `events`, robots.txt
and the sitemap).

Browsers always revalidate (`max-age=0`, or `no-cache` when no shared caching is configured):
every view asks, and the answer to a matching `If-None-Match` is a body-less 304. Shared caches
(a CDN, nginx's proxy_cache) may keep a copy for `LIVEBLOG_CACHE_S_MAXAGE` seconds and serve it
`LIVEBLOG_CACHE_STALE_WHILE_REVALIDATE` seconds longer while they refetch — safe only because
every change purges them (outbound/relay.py); with no purge target configured, leave both 0.
Responses to signed-in requests never carry this: they are `private, no-store` (web/security.py).
"""

from __future__ import annotations

from liveblog.settings import SettingError

_policy = ["no-cache"]


def configure(s_maxage: int, stale_seconds: int) -> None:
    """Set the policy for this process (from the settings, at app start)."""
    if s_maxage < 0 or stale_seconds < 0:
        raise SettingError(
            "LIVEBLOG_CACHE_S_MAXAGE and LIVEBLOG_CACHE_STALE_WHILE_REVALIDATE must not be negative"
        )
    if s_maxage == 0:
        _policy[0] = "no-cache"
        return
    value = f"public, max-age=0, s-maxage={s_maxage}"
    if stale_seconds:
        value += f", stale-while-revalidate={stale_seconds}"
    _policy[0] = value


def public_cache_control() -> str:
    return _policy[0]


def public_headers(etag: str | None = None) -> dict[str, str]:
    """Cache-Control, and the ETag when the response has one."""
    headers = {"Cache-Control": _policy[0]}
    if etag is not None:
        headers["ETag"] = etag
    return headers
