"""Settings from the environment (LIVEBLOG_*), overridable by CLI flags."""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MIN_SECRET_KEY = 32
SQLITE_FILE = "liveblog.sqlite3"


class SettingError(ValueError):
    """A setting's value cannot be used; the message names the variable."""


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass(slots=True)
class Settings:
    data_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("LIVEBLOG_DATA_DIR", "data"))
    )
    database_url: str = field(default_factory=lambda: os.environ.get("LIVEBLOG_DATABASE_URL", ""))
    host: str = field(default_factory=lambda: os.environ.get("LIVEBLOG_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(os.environ.get("LIVEBLOG_PORT", "8000")))
    max_request_bytes: int = 1024 * 1024
    reader_buffer_bytes: int = 256 * 1024
    stall_seconds: float = 30.0
    fast_stream: bool = field(
        default_factory=lambda: os.environ.get("LIVEBLOG_FAST_STREAM", "1") not in ("0", "false")
    )
    db_pool_size: int = field(
        default_factory=lambda: int(os.environ.get("LIVEBLOG_DB_POOL_SIZE", "10"))
    )
    """PostgreSQL connections a process keeps; as many again may open under load."""
    schedule_poll_seconds: float = field(
        default_factory=lambda: float(os.environ.get("LIVEBLOG_SCHEDULE_POLL_SECONDS", "1"))
    )
    keepalive_seconds: float = field(
        default_factory=lambda: float(os.environ.get("LIVEBLOG_KEEPALIVE_SECONDS", "15"))
    )
    # "text", or "json": one object per line (time, level, logger, message, extras).
    log_format: str = field(
        default_factory=lambda: os.environ.get("LIVEBLOG_LOG_FORMAT", "text").lower()
    )

    secret_key: str = field(default_factory=lambda: _env("LIVEBLOG_SECRET_KEY", ""), repr=False)
    """Signs session cookies and CSRF tokens; empty: a key made once and kept in the database."""
    trusted_proxies: str = field(default_factory=lambda: _env("LIVEBLOG_TRUSTED_PROXIES", ""))
    """Comma-separated addresses or CIDR ranges whose X-Forwarded-For/-Proto are believed."""
    session_idle_hours: float = field(
        default_factory=lambda: float(_env("LIVEBLOG_SESSION_IDLE_HOURS", "12"))
    )
    session_max_days: float = field(
        default_factory=lambda: float(_env("LIVEBLOG_SESSION_MAX_DAYS", "14"))
    )
    login_account_limit: int = field(
        default_factory=lambda: int(_env("LIVEBLOG_LOGIN_ACCOUNT_LIMIT", "5"))
    )
    """Failed logins per account within 15 minutes before that account's logins are refused."""
    login_address_limit: int = field(
        default_factory=lambda: int(_env("LIVEBLOG_LOGIN_ADDRESS_LIMIT", "20"))
    )
    """Failed logins per client address within 15 minutes before its logins are refused."""

    # The edge (web/edge.py): what one client can hold of the server before it is refused.
    head_timeout_seconds: float = field(
        default_factory=lambda: float(_env("LIVEBLOG_HEAD_TIMEOUT_SECONDS", "20"))
    )
    """A request's head must arrive within this (from the connection, or the request's first
    byte on a kept-alive one), else 408 and the connection is closed."""
    max_head_bytes: int = field(
        default_factory=lambda: int(_env("LIVEBLOG_MAX_HEAD_BYTES", str(32 * 1024)))
    )
    """Request line and headers together; a longer head is refused with 431."""
    slow_heads_per_address: int = field(
        default_factory=lambda: int(_env("LIVEBLOG_SLOW_HEADS_PER_ADDRESS", "1000"))
    )
    """Connections one address may hold whose head is still unfinished after `slow_head_seconds`."""
    slow_head_seconds: float = 2.0
    """A head still unfinished this long after it began counts as slow (no variable: tests)."""
    streams_per_address: int = field(
        default_factory=lambda: int(_env("LIVEBLOG_STREAMS_PER_ADDRESS", "0"))
    )
    """Open streams per client address; 0: no cap."""
    fd_reserve: int = field(default_factory=lambda: int(_env("LIVEBLOG_FD_RESERVE", "1000")))
    """File descriptors kept for addresses that hold few connections (at most a quarter of the
    open-files limit)."""
    http_protocol: str = field(
        default_factory=lambda: _env("LIVEBLOG_HTTP_PROTOCOL", "subclass").strip().lower()
    )
    """How the server's protocol meets uvicorn's: "subclass" (web/fastpath.py) or
    "composition" (web/front.py); a switch for benchmarking the two against each other."""

    # Pictures (media/): how big an upload may be, and where renditions are kept.
    media_max_bytes: int = field(
        default_factory=lambda: int(_env("LIVEBLOG_MEDIA_MAX_BYTES", str(30 * 1024 * 1024)))
    )
    """The largest upload to POST /api/blogs/{slug}/media (every other route keeps 1 MiB)."""
    media_max_pixels: int = field(
        default_factory=lambda: int(_env("LIVEBLOG_MEDIA_MAX_PIXELS", "50000000"))
    )
    """The most pixels an uploaded picture may have (width times height), judged before decoding."""
    media_dir: str = field(default_factory=lambda: _env("LIVEBLOG_MEDIA_DIR", ""))
    """The local directory for renditions; empty: `media` in the data directory."""
    s3_bucket: str = field(default_factory=lambda: _env("LIVEBLOG_S3_BUCKET", ""))
    """An S3-compatible bucket for renditions instead of the local directory."""
    s3_endpoint_url: str = field(default_factory=lambda: _env("LIVEBLOG_S3_ENDPOINT_URL", ""))
    s3_public_url: str = field(default_factory=lambda: _env("LIVEBLOG_S3_PUBLIC_URL", ""))
    """Where readers fetch published renditions: the bucket's public/ prefix, or a CDN on it."""
    s3_prefix: str = field(default_factory=lambda: _env("LIVEBLOG_S3_PREFIX", ""))
    s3_region: str = field(default_factory=lambda: _env("LIVEBLOG_S3_REGION", ""))

    # The site (web/site.py): how readers, search engines and feed readers are told of it.
    base_url: str = field(default_factory=lambda: _env("LIVEBLOG_BASE_URL", ""))
    """The public address, e.g. https://live.example.org; empty: serve's own http://HOST:PORT."""
    site_name: str = field(default_factory=lambda: _env("LIVEBLOG_SITE_NAME", "Liveblog"))
    publisher_name: str = field(default_factory=lambda: _env("LIVEBLOG_PUBLISHER_NAME", ""))
    """The organisation in structured data; empty: the site name."""
    publisher_logo: str = field(default_factory=lambda: _env("LIVEBLOG_PUBLISHER_LOGO", ""))
    """An https URL, or the path of an image file the app serves at /site/logo."""
    share_image: str = field(default_factory=lambda: _env("LIVEBLOG_SHARE_IMAGE", ""))
    """The image shared for a blog without a cover: a URL, or a file served at /site/share."""
    frame_origins: str = field(default_factory=lambda: _env("LIVEBLOG_FRAME_ORIGINS", ""))
    """Comma-separated partner origins (https://partner.example) allowed to frame reader pages."""

    # Caching and what leaves the site (web/caching.py, outbound/).
    cache_s_maxage: int = field(default_factory=lambda: int(_env("LIVEBLOG_CACHE_S_MAXAGE", "0")))
    """Seconds a shared cache (a CDN, nginx) may serve public pages, JSON and feeds without
    asking; 0: shared caches revalidate every time too. Set it only with purge targets."""
    cache_stale_seconds: int = field(
        default_factory=lambda: int(_env("LIVEBLOG_CACHE_STALE_WHILE_REVALIDATE", "0"))
    )
    """Seconds past s-maxage a shared cache may serve a copy while it fetches a fresh one."""
    purge_targets: str = field(default_factory=lambda: _env("LIVEBLOG_PURGE_TARGETS", ""))
    """A JSON list of caches to purge on every change (outbound/targets.py, docs/deploying.md)."""
    webhook_allow_private: bool = field(
        default_factory=lambda: _env("LIVEBLOG_WEBHOOK_ALLOW_PRIVATE", "0") in ("1", "true")
    )
    """Let webhooks call loopback, private and link-local addresses (refused by default)."""

    def media_directory(self) -> Path:
        return Path(self.media_dir) if self.media_dir else self.data_dir / "media"

    def trusted_networks(self) -> list[Network]:
        networks = []
        for part in filter(None, (p.strip() for p in self.trusted_proxies.split(","))):
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise SettingError(
                    f"LIVEBLOG_TRUSTED_PROXIES: {part!r} is not an IP address or CIDR range"
                ) from None
        return networks

    def secret_key_bytes(self) -> bytes | None:
        """The configured signing key, or None to use the one kept in the database."""
        if not self.secret_key:
            return None
        if len(self.secret_key) < MIN_SECRET_KEY:
            raise SettingError(
                f"LIVEBLOG_SECRET_KEY must be at least {MIN_SECRET_KEY} characters; make one "
                "with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return self.secret_key.encode()

    def sqlite_file(self) -> Path | None:
        """The SQLite file the database is or will be (absolute), None for PostgreSQL or an
        in-memory SQLite. Creates nothing."""
        if not self.database_url:
            return (self.data_dir / SQLITE_FILE).resolve()
        scheme, _, rest = self.database_url.partition(":///")
        if scheme.split("+", 1)[0] != "sqlite" or not rest or rest.startswith(":memory:"):
            return None
        return Path(rest.split("?", 1)[0]).resolve()

    def database_label(self) -> str:
        """What `database: …` says at the start of every command: the SQLite file's absolute
        path, or the URL with any password hidden."""
        sqlite_file = self.sqlite_file()
        return str(sqlite_file) if sqlite_file is not None else hide_password(self.database_url)

    def resolved_database_url(self) -> str:
        """SQLite in the data directory unless a database URL was given (the directory is made
        here). PostgreSQL without its driver stops here, saying which extra to install."""
        if self.database_url:
            if self.database_url.startswith("postgresql") and not _has_postgres_driver():
                raise SettingError(
                    "LIVEBLOG_DATABASE_URL is a PostgreSQL database, but its driver is not "
                    "installed: pip install 'liveblog[postgres]'"
                )
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / SQLITE_FILE).resolve()}"


def hide_password(url: str) -> str:
    """The URL with its password, if any, shown as `***` (`user:***@host`, `?password=***`)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    netloc, tail = rest[:end], rest[end:]
    userinfo, at, host = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
    tail = re.sub(r"([?&]password=)[^&]*", r"\1***", tail)
    return f"{scheme}://{netloc}{tail}"


def _has_postgres_driver() -> bool:
    return importlib.util.find_spec("psycopg") is not None
