"""The store's queries for accounts: passwords, browser sessions, login throttling, secrets.

A part of `SqlTx` (a mixin), kept apart so that each module stays small.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row

from liveblog.domain.models import LoginSession, Role, User
from liveblog.storage.rows import user_from_row, utc, utc_required
from liveblog.storage.schema import api_tokens, login_failures, secrets, sessions, users


class AccountQueries:
    conn: Connection
    dialect: str

    # --- users ------------------------------------------------------------------------------

    def user_credentials(self, name: str) -> tuple[User, str | None] | None:
        """The user and their password hash (None for a user who only has API tokens)."""
        row = self.conn.execute(select(users).where(users.c.name == name)).first()
        return (user_from_row(row), row.password_hash) if row else None

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        self.conn.execute(
            update(users).where(users.c.id == user_id).values(password_hash=password_hash)
        )

    def set_user_disabled(self, user_id: int, disabled: bool) -> None:
        self.conn.execute(update(users).where(users.c.id == user_id).values(disabled=disabled))

    def list_users(self) -> list[User]:
        return [user_from_row(r) for r in self.conn.execute(select(users).order_by(users.c.name))]

    def users_created(self) -> list[tuple[User, datetime]]:
        """Every user and when they were created, by name (the admin page's table)."""
        rows = self.conn.execute(select(users).order_by(users.c.name))
        return [(user_from_row(r), utc_required(r.created_at)) for r in rows]

    # --- API tokens, as an admin sees them: which one, never the token or its hash ----------

    def active_tokens(self) -> list[tuple[int, int, datetime]]:
        """(token id, user id, created at) of every token not revoked, oldest first."""
        rows = self.conn.execute(
            select(api_tokens.c.id, api_tokens.c.user_id, api_tokens.c.created_at)
            .where(api_tokens.c.revoked_at.is_(None))
            .order_by(api_tokens.c.created_at, api_tokens.c.id)
        )
        return [(r.id, r.user_id, utc_required(r.created_at)) for r in rows]

    def revoke_token_id(self, token_id: int, user_id: int, at: datetime) -> bool:
        """Revoke the user's token with this id; False if it is not theirs or already revoked."""
        theirs = and_(api_tokens.c.id == token_id, api_tokens.c.user_id == user_id)
        result = self.conn.execute(
            update(api_tokens)
            .where(theirs, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return result.rowcount == 1

    # --- sessions ---------------------------------------------------------------------------

    def insert_session(self, token_hash: str, session: LoginSession) -> int:
        values = {**asdict(session), "token_hash": token_hash}
        del values["id"]  # the database numbers sessions
        row_id: int = self.conn.execute(sessions.insert().values(**values)).inserted_primary_key[0]  # type: ignore[index]
        return row_id

    def session_by_token_hash(self, token_hash: str) -> tuple[LoginSession, User] | None:
        """The session and its user, whatever their state: the caller judges expiry."""
        row = self.conn.execute(
            select(sessions, users.c.name, users.c.role, users.c.disabled)
            .join(users, users.c.id == sessions.c.user_id)
            .where(sessions.c.token_hash == token_hash)
        ).first()
        if row is None:
            return None
        user = User(id=row.user_id, name=row.name, role=Role(row.role), disabled=bool(row.disabled))
        return _session(row), user

    def touch_session(self, session_id: int, at: datetime) -> None:
        self.conn.execute(
            update(sessions).where(sessions.c.id == session_id).values(last_seen_at=at)
        )

    def revoke_sessions(
        self, at: datetime, *, session_id: int | None = None, user_id: int | None = None
    ) -> int:
        """End one session, or every session of a user; returns how many were not yet ended."""
        which = sessions.c.id == session_id if user_id is None else sessions.c.user_id == user_id
        result = self.conn.execute(
            update(sessions).where(which, sessions.c.revoked_at.is_(None)).values(revoked_at=at)
        )
        return int(result.rowcount)

    def purge_sessions(self, ended_before: datetime) -> int:
        """Delete sessions revoked or past their absolute end before `ended_before`."""
        result = self.conn.execute(
            sessions.delete().where(
                or_(sessions.c.revoked_at < ended_before, sessions.c.expires_at < ended_before)
            )
        )
        return int(result.rowcount)

    # --- login throttling -------------------------------------------------------------------

    def count_failure(self, key: str, now: datetime, window: timedelta) -> tuple[int, datetime]:
        """Add one to the key's count and return it with the start of its window. A window
        begins at the first failure and lasts `window`; the next failure after it starts a new
        one. One atomic statement, so concurrent attempts on any node each get their own count
        (the row lock queues them on PostgreSQL; SQLite has one writer)."""
        insert = (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(
            login_failures
        )
        current = login_failures.c.window_start > now - window
        statement = (
            insert.values(key=key, window_start=now, failures=1)
            .on_conflict_do_update(
                index_elements=[login_failures.c.key],
                set_={
                    "failures": case((current, login_failures.c.failures + 1), else_=1),
                    "window_start": case((current, login_failures.c.window_start), else_=now),
                },
            )
            .returning(login_failures.c.failures, login_failures.c.window_start)
        )
        row = self.conn.execute(statement).one()
        return int(row.failures), utc_required(row.window_start)

    def forgive_failure(self, key: str, window_start: datetime) -> None:
        """Take back one count of the window that began at `window_start` (if it still runs);
        a counter back at zero goes."""
        this_window = and_(
            login_failures.c.key == key, login_failures.c.window_start == window_start
        )
        self.conn.execute(
            update(login_failures).where(this_window).values(failures=login_failures.c.failures - 1)
        )
        self.conn.execute(
            login_failures.delete().where(this_window, login_failures.c.failures <= 0)
        )

    def clear_failures(self, key: str) -> None:
        self.conn.execute(login_failures.delete().where(login_failures.c.key == key))

    def purge_failures(self, window_before: datetime) -> int:
        """Delete counters whose window began before `window_before` (they count no more)."""
        result = self.conn.execute(
            login_failures.delete().where(login_failures.c.window_start < window_before)
        )
        return int(result.rowcount)

    # --- shared secrets ---------------------------------------------------------------------

    def ensure_secret(self, name: str, candidate: str, at: datetime) -> str:
        """The stored secret `name`; `candidate` becomes it if there is none yet. Nodes racing
        to create it all end up with the one that was committed first."""
        insert = (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(secrets)
        self.conn.execute(
            insert.values(name=name, value=candidate, created_at=at).on_conflict_do_nothing(
                index_elements=[secrets.c.name]
            )
        )
        value: str = self.conn.execute(
            select(secrets.c.value).where(secrets.c.name == name)
        ).scalar_one()
        return value


def _session(row: Row[Any]) -> LoginSession:
    return LoginSession(
        id=row.id,
        user_id=row.user_id,
        created_at=utc_required(row.created_at),
        last_seen_at=utc_required(row.last_seen_at),
        expires_at=utc_required(row.expires_at),
        revoked_at=utc(row.revoked_at),
        user_agent=row.user_agent,
        address=row.address,
    )
