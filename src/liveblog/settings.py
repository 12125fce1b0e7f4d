"""Settings from the environment (LIVEBLOG_*), overridable by CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


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

    def resolved_database_url(self) -> str:
        """SQLite in the data directory unless a database URL was given."""
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / 'liveblog.sqlite3').resolve()}"
