"""The SQL store: one implementation for SQLite and PostgreSQL, through SQLAlchemy Core.

SQLite gets exactly one writer connection (the system SQLite 3.40 is inside the WAL-reset bug
range, which needs two connections writing) and `BEGIN IMMEDIATE`, so a write transaction takes
the lock up front instead of failing half-way. Readers use their own pooled connections; WAL lets
them read a consistent snapshot while the writer works.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.exc import DataError, IntegrityError

from liveblog.domain.errors import AlreadyExists, Unstorable
from liveblog.domain.events import (
    REDACTED_TYPES,
    SIGNAL_CHANNEL,
    Event,
    EventType,
    signal_payload,
)
from liveblog.domain.models import (
    Blog,
    BlogStatus,
    Role,
    User,
)
from liveblog.storage import migrate
from liveblog.storage.accounts import AccountQueries
from liveblog.storage.audit import AuditQueries
from liveblog.storage.entries import EntryQueries
from liveblog.storage.media import MediaQueries
from liveblog.storage.outbox import OutboxQueries
from liveblog.storage.presence import PresenceQueries
from liveblog.storage.rows import ref_from_json, ref_to_json, user_from_row, utc, utc_required
from liveblog.storage.schema import (
    api_tokens,
    blogs,
    events,
    jobs,
    users,
)


def _sqlite_engine(url: str, *, writer: bool) -> Engine:
    engine = create_engine(
        url,
        pool_size=1 if writer else 4,
        max_overflow=0 if writer else 4,
        pool_timeout=30,
        connect_args={"check_same_thread": False, "timeout": 30},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so "begin" below decides.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged publish is on disk before the 201, surviving power loss too.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


class SqlStore:
    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = url
        self.dialect = url.split(":", 1)[0].split("+", 1)[0]
        if self.dialect == "sqlite":
            self._writer = _sqlite_engine(url, writer=True)
            self._reader = _sqlite_engine(url, writer=False)
        else:
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
            self._writer = self._reader = create_engine(
                url, pool_size=pool_size, max_overflow=pool_size
            )

    def migrate(self) -> None:
        migrate.upgrade(self._writer)

    def is_migrated(self) -> bool:
        return migrate.is_current(self._reader)

    def ping(self) -> None:
        """A trivial query, for health checks. On SQLite `SELECT 1` never touches the file, so
        read the schema version from its header instead."""
        query = "PRAGMA schema_version" if self.dialect == "sqlite" else "SELECT 1"
        with self._reader.connect() as conn:
            conn.exec_driver_sql(query).fetchone()

    @contextmanager
    def write(self) -> Iterator[SqlTx]:
        with _storable(), self._writer.begin() as conn:
            yield SqlTx(conn, self.dialect)

    @contextmanager
    def read(self) -> Iterator[SqlTx]:
        with _storable(), self._reader.begin() as conn:
            yield SqlTx(conn, self.dialect)

    def close(self) -> None:
        self._writer.dispose()
        self._reader.dispose()


@contextmanager
def _storable() -> Iterator[None]:
    """A value the database cannot hold or look up is the caller's mistake, said in domain
    terms: a NUL character (PostgreSQL refuses it in text) or a number past 64 bits (SQLite's
    driver raises OverflowError binding it, PostgreSQL a DataError)."""
    try:
        yield
    except (DataError, OverflowError):
        raise Unstorable(
            "the request contains a value that cannot be stored or looked up "
            "(for example a NUL character or an out-of-range number)"
        ) from None


class SqlTx(
    AccountQueries, AuditQueries, EntryQueries, MediaQueries, OutboxQueries, PresenceQueries
):
    def __init__(self, conn: Connection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    # --- users and tokens -------------------------------------------------------------------

    def insert_user(self, name: str, role: Role, password_hash: str | None, at: datetime) -> User:
        try:
            with self.conn.begin_nested():
                row_id = self.conn.execute(
                    users.insert().values(
                        name=name,
                        role=role.value,
                        password_hash=password_hash,
                        disabled=False,
                        created_at=at,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
        except IntegrityError:
            raise AlreadyExists(f"a user named {name!r} already exists") from None
        return User(id=row_id, name=name, role=role)

    def user_by_name(self, name: str) -> User | None:
        row = self.conn.execute(select(users).where(users.c.name == name)).first()
        return user_from_row(row) if row else None

    def user_by_token_hash(self, token_hash: str) -> User | None:
        row = self.conn.execute(
            select(users)
            .join(api_tokens, api_tokens.c.user_id == users.c.id)
            .where(api_tokens.c.token_hash == token_hash, api_tokens.c.revoked_at.is_(None))
        ).first()
        return user_from_row(row) if row else None

    def insert_token(self, user_id: int, token_hash: str, at: datetime) -> None:
        self.conn.execute(
            api_tokens.insert().values(user_id=user_id, token_hash=token_hash, created_at=at)
        )

    def count_users(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(users)).scalar_one())

    # --- blogs ------------------------------------------------------------------------------

    def insert_blog(self, blog: Blog) -> Blog:
        values = _blog_values(blog)
        try:
            with self.conn.begin_nested():
                blog.id = self.conn.execute(blogs.insert().values(**values)).inserted_primary_key[0]  # type: ignore[index]
        except IntegrityError:
            raise AlreadyExists(f"a blog with slug {blog.slug!r} already exists") from None
        return blog

    def blog_by_slug(self, slug: str, *, for_update: bool = False) -> Blog | None:
        query = select(blogs).where(blogs.c.slug == slug)
        if for_update and self.dialect != "sqlite":
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        return _blog(row) if row else None

    def list_blogs(self, limit: int) -> list[Blog]:
        rows = self.conn.execute(
            select(blogs).order_by(blogs.c.status.desc(), blogs.c.updated_at.desc()).limit(limit)
        )
        return [_blog(r) for r in rows]

    def update_blog(self, blog: Blog) -> None:
        values = _blog_values(blog)
        values.pop("seq")  # only append_event moves seq
        self.conn.execute(update(blogs).where(blogs.c.id == blog.id).values(**values))

    # --- jobs that run once across nodes ----------------------------------------------------

    def blog_by_id(self, blog_id: int, *, for_update: bool = False) -> Blog | None:
        query = select(blogs).where(blogs.c.id == blog_id)
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        return _blog(row) if row else None

    def claim_job(self, name: str, now: datetime, next_run_at: datetime, node: str) -> bool:
        """True if this node won this period's run of the job: the conditional update moves
        the row forward for exactly one of the nodes racing for it."""
        result = self.conn.execute(
            update(jobs)
            .where(jobs.c.name == name, jobs.c.next_run_at <= now)
            .values(next_run_at=next_run_at, last_run_at=now, last_node=node)
        )
        return result.rowcount == 1

    def purge_revoked_tokens(self, revoked_before: datetime) -> int:
        result = self.conn.execute(
            api_tokens.delete().where(
                api_tokens.c.revoked_at.is_not(None), api_tokens.c.revoked_at < revoked_before
            )
        )
        return result.rowcount

    def revoke_token(self, token_hash: str, at: datetime) -> bool:
        result = self.conn.execute(
            update(api_tokens)
            .where(api_tokens.c.token_hash == token_hash, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return result.rowcount == 1

    # --- the event log ----------------------------------------------------------------------

    def append_event(
        self, blog_id: int, type: EventType, entry_id: int | None, data: str, at: datetime
    ) -> Event:
        # Bumping the blog's counter takes its row lock (PostgreSQL) or runs under the single
        # writer (SQLite): concurrent writers queue here, so seq stays gapless and ordered.
        seq = self.conn.execute(
            update(blogs)
            .where(blogs.c.id == blog_id)
            .values(seq=blogs.c.seq + 1)
            .returning(blogs.c.seq)
        ).scalar_one()
        self.conn.execute(
            events.insert().values(
                blog_id=blog_id,
                seq=seq,
                type=type.value,
                entry_id=entry_id,
                data=data,
                created_at=at,
            )
        )
        if self.dialect == "postgresql":
            # Delivered to every listening node when (and only if) this transaction commits,
            # in commit order: the bridge's "blog B reached seq N" (broadcast/pgbridge.py).
            self.conn.execute(select(func.pg_notify(SIGNAL_CHANNEL, signal_payload(blog_id, seq))))
        return Event(
            blog_id=blog_id, seq=seq, type=type, entry_id=entry_id, data=data, created_at=at
        )

    def events_after(self, blog_id: int, after: int, limit: int) -> list[Event]:
        rows = self.conn.execute(
            select(events)
            .where(events.c.blog_id == blog_id, events.c.seq > after)
            .order_by(events.c.seq)
            .limit(limit)
        )
        return [
            Event(
                blog_id=r.blog_id,
                seq=r.seq,
                type=EventType(r.type),
                entry_id=r.entry_id,
                data=r.data,
                created_at=utc_required(r.created_at),
            )
            for r in rows
        ]

    def redact_entry_events(self, blog_id: int, entry_id: int, redacted_data: str) -> int:
        result = self.conn.execute(
            update(events)
            .where(
                events.c.blog_id == blog_id,
                events.c.entry_id == entry_id,
                events.c.type.in_([kind.value for kind in REDACTED_TYPES]),
            )
            .values(data=redacted_data)
        )
        return int(result.rowcount)


# --- row <-> domain ---------------------------------------------------------------------------


def _blog_values(blog: Blog) -> dict[str, Any]:
    return {
        "slug": blog.slug,
        "title": blog.title,
        "description": blog.description,
        "key_points": json.dumps(blog.key_points, ensure_ascii=False),
        "language": blog.language,
        "timezone": blog.timezone,
        "status": blog.status.value,
        "seq": blog.seq,
        "created_at": blog.created_at,
        "updated_at": blog.updated_at,
        "ended_at": blog.ended_at,
        "cover_id": blog.cover.id if blog.cover else None,
        "cover": ref_to_json(blog.cover),
    }


def _blog(row: Row[Any]) -> Blog:
    return Blog(
        id=row.id,
        slug=row.slug,
        title=row.title,
        description=row.description,
        key_points=json.loads(row.key_points),
        language=row.language,
        timezone=row.timezone,
        status=BlogStatus(row.status),
        seq=row.seq,
        created_at=utc_required(row.created_at),
        updated_at=utc_required(row.updated_at),
        ended_at=utc(row.ended_at),
        cover=ref_from_json(row.cover),
    )
