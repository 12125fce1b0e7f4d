"""Browser sessions: logging in and out, session lifetimes, login throttling, and the secrets
every node shares. Knows nothing of HTTP: the web edge signs the session id into a cookie and
derives CSRF tokens from it (web/signing.py).

Everything lives in the database (sessions, failure counters, shared secrets), so any node can
check what any other node did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from liveblog import credentials
from liveblog.domain.errors import Forbidden, NotAuthenticated, TooManyAttempts
from liveblog.domain.models import LoginSession, User
from liveblog.storage.base import SessionTx
from liveblog.usecases.core import Core

WINDOW = timedelta(minutes=15)
"""Failed logins count for this long from the first one of a series."""
SESSIONS_KEPT = timedelta(days=7)
"""Ended sessions stay this long (who was logged in from where), then go."""
TOUCH_EVERY = timedelta(minutes=1)
"""A session's last-seen time is written at most this often: not one write per request."""
MAX_USER_AGENT = 200
MAX_ADDRESS = 64

WRONG_CREDENTIALS = "wrong username or password"
SESSION_ENDED = "your session has ended; log in again"


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle: timedelta = timedelta(hours=12)
    """A session unused this long has ended."""
    lifetime: timedelta = timedelta(days=14)
    """A session ends this long after the login, however busy it is."""
    account_limit: int = 5
    """Failed logins per account within WINDOW before its logins are refused."""
    address_limit: int = 20
    """Failed logins per client address within WINDOW before its logins are refused."""


@dataclass(slots=True)
class SignedIn:
    """A live session: who it is, the stored session, and the random id the cookie carries."""

    user: User
    session: LoginSession
    session_id: str = field(repr=False)


def _throttle_key(kind: str, value: str) -> str:
    return credentials.hash_token(f"{kind}\0{value}")


def _minutes(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class Sessions(Core):
    policy: SessionPolicy

    def shared_secret(self, name: str) -> str:
        """The secret called `name` that every node sharing the database uses; made (randomly)
        by whichever node asks first."""
        with self.door.write() as unit:
            return unit.tx.ensure_secret(name, credentials.new_secret_key(), unit.now)

    def login(
        self,
        name: str,
        password: str,
        *,
        address: str,
        user_agent: str = "",
        replacing: str | None = None,
    ) -> SignedIn:
        """A new session for the user. `replacing` is the session id the browser had, whose
        session ends (a login always gets a fresh id).

        Each attempt is counted as a failure *before* the password is checked and forgiven
        after a success, so parallel guesses cannot slip past the limit while being checked.
        """
        address_key = _throttle_key("address", address)
        account_key = _throttle_key("account", name)
        with self.door.write() as unit:
            # A refused attempt raises here, inside the transaction: it leaves no trace.
            address_window = _count(
                unit.tx, address_key, unit.now, self.policy.address_limit, "from your network"
            )
            _count(unit.tx, account_key, unit.now, self.policy.account_limit, "for this account")
            found = unit.tx.user_credentials(name)
            now = unit.now
        user, stored_hash = found if found is not None else (None, None)
        # Checked whatever was found, so an unknown name takes as long as a wrong password.
        if not credentials.verify_password(stored_hash, password) or user is None:
            raise NotAuthenticated(WRONG_CREDENTIALS)
        if user.disabled:
            raise Forbidden("this account is disabled; an admin can enable it again")
        rehashed = None
        if stored_hash is not None and credentials.needs_rehash(stored_hash):
            rehashed = credentials.hash_password(password)
        session_id = credentials.new_session_id()
        session = LoginSession(
            id=0,
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.policy.lifetime,
            user_agent=user_agent[:MAX_USER_AGENT],
            address=address[:MAX_ADDRESS],
        )
        with self.door.write(at=now) as unit:
            tx = unit.tx
            tx.clear_failures(account_key)
            tx.forgive_failure(address_key, address_window)
            if rehashed is not None:
                tx.set_password_hash(user.id, rehashed)
            old = self._live(tx, replacing, now) if replacing else None
            if old is not None:
                tx.revoke_sessions(now, session_id=old.session.id)
            session.id = tx.insert_session(credentials.hash_token(session_id), session)
        return SignedIn(user, session, session_id)

    def session(self, session_id: str) -> SignedIn:
        """The live session with this id; NotAuthenticated when it is unknown, revoked, past
        its idle or absolute end, or its user is disabled."""
        now = self.clock()
        with self.store.read() as tx:
            signed_in = self._live(tx, session_id, now)
        if signed_in is None:
            raise NotAuthenticated(SESSION_ENDED)
        if now - signed_in.session.last_seen_at >= TOUCH_EVERY:
            with self.door.write(at=now) as unit:
                unit.tx.touch_session(signed_in.session.id, now)
            signed_in.session.last_seen_at = now
        return signed_in

    def _live(self, tx: SessionTx, session_id: str, now: datetime) -> SignedIn | None:
        found = tx.session_by_token_hash(credentials.hash_token(session_id))
        if found is None:
            return None
        session, user = found
        ended = (
            session.revoked_at is not None
            or session.expires_at <= now
            or session.last_seen_at + self.policy.idle <= now
            or user.disabled
        )
        return None if ended else SignedIn(user, session, session_id)

    def logout(self, signed_in: SignedIn) -> None:
        with self.door.write() as unit:
            unit.tx.revoke_sessions(unit.now, session_id=signed_in.session.id)

    def logout_everywhere(self, user: User) -> int:
        """End every session of the user, on every device and node; returns how many."""
        with self.door.write() as unit:
            return unit.tx.revoke_sessions(unit.now, user_id=user.id)


def purge(tx: SessionTx, now: datetime) -> tuple[int, int]:
    """For the hourly retention job: delete sessions that ended over SESSIONS_KEPT ago and
    failure counters whose window has passed. Returns (sessions, counters) deleted."""
    return tx.purge_sessions(now - SESSIONS_KEPT), tx.purge_failures(now - WINDOW)


def _count(tx: SessionTx, key: str, now: datetime, limit: int, whose: str) -> datetime:
    """Count one more attempt for `key`; TooManyAttempts once over `limit` in the window.
    Returns when the window began."""
    failures, window_start = tx.count_failure(key, now, WINDOW)
    if failures > limit:
        wait = max(1, math.ceil((window_start + WINDOW - now).total_seconds()))
        raise TooManyAttempts(
            f"too many failed logins {whose}; try again in {_minutes(wait)}", wait
        )
    return window_start
