"""Table definitions, shared by the store and the migrations' autogenerate check."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=True),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

blogs = Table(
    "blogs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("slug", String(80), nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("key_points", Text, nullable=False, default="[]"),
    Column("language", String(35), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    # The last event number written to this blog's log; bumped in the same transaction as the
    # event row, which is what keeps the sequence gapless.
    Column("seq", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    # The share image: its id (no foreign key: media rows name their blog, and the cycle would
    # make both tables awkward to create and drop) and its public JSON as shown with the blog.
    Column("cover_id", Integer, nullable=True),
    Column("cover", Text, nullable=True),
)

entries = Table(
    "entries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("blog_id", Integer, ForeignKey("blogs.id"), nullable=False),
    Column("author_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("headline", Text, nullable=False, default=""),
    Column("body", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("pinned", Boolean, nullable=False, default=False),
    Column("key_event", Boolean, nullable=False, default=False),
    Column("version", Integer, nullable=False, default=1),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Column("correction_note", Text, nullable=True),
    Column("correction_at", DateTime(timezone=True), nullable=True),
    Column("public_note", Text, nullable=True),
    Column("retracted_at", DateTime(timezone=True), nullable=True),
    Column("scheduled_at", DateTime(timezone=True), nullable=True),
    Column("review_note", Text, nullable=True),
    # The entry's pictures with their texts and renditions, as JSON (see entry_media for lookups).
    Column("media", Text, nullable=False, default="[]"),
    Index("ix_entries_blog_published", "blog_id", "status", "published_at", "id"),
    Index("ix_entries_timeline", "blog_id", "published_at", "id"),
    Index("ix_entries_pinned", "blog_id", "pinned"),
    Index("ix_entries_due", "status", "scheduled_at"),
)

entry_revisions = Table(
    "entry_revisions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("entry_id", Integer, ForeignKey("entries.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("headline", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("correction_note", Text, nullable=True),
    Column("media", Text, nullable=False, default="[]"),
    Column("editor_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("entry_id", "version", name="uq_revision_version"),
)

events = Table(
    "events",
    metadata,
    Column("blog_id", Integer, ForeignKey("blogs.id"), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("type", String(32), nullable=False),
    Column("entry_id", Integer, nullable=True),
    Column("data", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_events_entry", "blog_id", "entry_id"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("next_run_at", DateTime(timezone=True), nullable=False),
    Column("last_run_at", DateTime(timezone=True), nullable=True),
    Column("last_node", String(128), nullable=True),
)

# A browser login. The cookie carries a random id; only its SHA-256 is stored, so a copy of the
# database does not let anyone in. Rows outlive their end for a while (see jobs.run_retention).
sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("user_agent", String(200), nullable=False, default=""),
    Column("address", String(64), nullable=False, default=""),
    Index("ix_sessions_user", "user_id"),
)

# Failed logins per account and per client address, one row per key: the count within the
# window that began at `window_start`. The key is a SHA-256 of what it counts, so the table holds
# neither typed user names (people type passwords there by mistake) nor addresses.
login_failures = Table(
    "login_failures",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("window_start", DateTime(timezone=True), nullable=False),
    Column("failures", Integer, nullable=False),
)

# Secrets the nodes must share, made on first use (the cookie signing key, unless
# LIVEBLOG_SECRET_KEY is set).
secrets = Table(
    "secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Who did what to which blog or entry, and when: staff-only, beside the public event log. No
# foreign keys: the log outlives what it names, and `actor` keeps the name as it was.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("user_id", Integer, nullable=True),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("blog_id", Integer, nullable=True),
    Column("entry_id", Integer, nullable=True),
    Column("detail", Text, nullable=False),
    Index("ix_audit_log_blog", "blog_id", "id"),
)

desk_presence = Table(
    "desk_presence",
    metadata,
    Column("blog_id", Integer, ForeignKey("blogs.id"), primary_key=True),
    Column("tab", String(32), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("editing_entry_id", Integer, nullable=True),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)

# Uploaded pictures. The upload itself is never kept: only its renditions (media_files), made
# from raw pixels with no metadata. `state` is private, public or withdrawn (domain/media.py).
media = Table(
    "media",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("blog_id", Integer, ForeignKey("blogs.id"), nullable=False),
    Column("alt", Text, nullable=False),
    Column("caption", Text, nullable=False, default=""),
    Column("credit", Text, nullable=False, default=""),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_by", Integer, ForeignKey("users.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("withdrawn_at", DateTime(timezone=True), nullable=True),
    Index("ix_media_blog", "blog_id", "id"),
)

# One row per rendition. Names are content addresses, so two uploads of the same picture share a
# file: it is deleted only when no media row that is not withdrawn still names it.
media_files = Table(
    "media_files",
    metadata,
    Column("media_id", Integer, ForeignKey("media.id"), primary_key=True),
    Column("key", String(80), primary_key=True),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("format", String(8), nullable=False),
    Column("media_type", String(32), nullable=False),
    Column("bytes", Integer, nullable=False),
    Index("ix_media_files_key", "key"),
)

# Which entries use which media now (derived from entries.media on every write of an entry), so
# "is this picture still used by a published entry?" is an indexed question.
entry_media = Table(
    "entry_media",
    metadata,
    Column("entry_id", Integer, ForeignKey("entries.id"), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("media_id", Integer, ForeignKey("media.id"), nullable=False),
    Index("ix_entry_media_media", "media_id"),
)

# Pictures taken down, with every URL they were served at: what a CDN purge must follow.
media_withdrawals = Table(
    "media_withdrawals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("blog_id", Integer, ForeignKey("blogs.id"), nullable=False),
    Column("entry_id", Integer, nullable=True),
    Column("media_id", Integer, ForeignKey("media.id"), nullable=False),
    Column("urls", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_media_withdrawals_entry", "blog_id", "entry_id"),
)

# What leaves the site (domain/outbox.py): written in the change's own transaction, sent by the
# cluster's one relay in id order per lane. `next_attempt_at` moves on each failure (backoff).
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("blog_id", Integer, ForeignKey("blogs.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("event_type", String(32), nullable=False, default=""),
    Column("kind", String(16), nullable=False),
    Column("target", String(64), nullable=False),
    Column("lane", String(160), nullable=False),
    Column("payload", Text, nullable=False, default=""),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Index("ix_outbox_pending", "state", "id"),
    Index("ix_outbox_blog", "blog_id", "id"),
    Index("ix_outbox_lane", "lane", "state", "id"),
    # Ids are never reused (SQLite would reuse the highest after a delete): an id names one
    # delivery to its receivers (Liveblog-Delivery) and one webhook to its items.
    sqlite_autoincrement=True,
)

# A blog's outgoing webhooks. The secret is kept as given: the relay signs each delivery with it.
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("blog_id", Integer, ForeignKey("blogs.id"), nullable=False),
    Column("url", Text, nullable=False),
    Column("events", Text, nullable=False),
    Column("secret", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_webhooks_blog", "blog_id"),
    sqlite_autoincrement=True,
)
