"""Accounts: logging in and out, browser sessions, login throttling, CSRF tokens, and the
operator's user commands. Composes the store as the service does and knows nothing of HTTP.

Everything lives in the database (sessions, failure counters, the signing key unless one is
configured), so any node can check what any other node did.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from liveblog import audit, credentials
from liveblog.domain.audit import AuditAction
from liveblog.domain.errors import (
    Forbidden,
    InvalidState,
    NotAuthenticated,
    NotFound,
    TooManyAttempts,
)
from liveblog.domain.models import LoginSession, User
from liveblog.domain.rules import Action, check_password, require
from liveblog.storage.base import Store, Tx

WINDOW = timedelta(minutes=15)
"""Failed logins count for this long from the first one of a series."""
SESSIONS_KEPT = timedelta(days=7)
"""Ended sessions stay this long (who was logged in from where), then go."""
TOUCH_EVERY = timedelta(minutes=1)
"""A session's last-seen time is written at most this often: not one write per request."""
SIGNING_KEY = "session-signing-key"
MAX_USER_AGENT = 200
MAX_ADDRESS = 64

WRONG_CREDENTIALS = "wrong username or password"
SESSION_ENDED = "your session has ended; log in again"


def utcnow() -> datetime:
    return datetime.now(UTC)


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


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An active API token as an admin sees it: which one and since when, never the token
    or its hash."""

    id: int
    created_at: datetime


@dataclass(slots=True)
class Member:
    """A user as the admin page lists them."""

    user: User
    created_at: datetime
    tokens: list[TokenInfo] = field(default_factory=list)
    """The active API tokens, oldest first."""


def _throttle_key(kind: str, value: str) -> str:
    return credentials.hash_token(f"{kind}\0{value}")


def _minutes(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class Accounts:
    def __init__(
        self,
        store: Store,
        policy: SessionPolicy | None = None,
        secret_key: bytes | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.policy = policy or SessionPolicy()
        self.clock = clock
        self._key = secret_key

    # --- the signing key --------------------------------------------------------------------

    def key(self) -> bytes:
        """The configured key, else the one in the database (made on first use): every node
        that shares the database signs and checks with the same key."""
        if self._key is None:
            with self.store.write() as tx:
                value = tx.ensure_secret(SIGNING_KEY, credentials.new_secret_key(), self.clock())
            self._key = value.encode()
        return self._key

    # --- logging in and out -----------------------------------------------------------------

    def login(
        self,
        name: str,
        password: str,
        *,
        address: str,
        user_agent: str = "",
        replacing: str | None = None,
    ) -> tuple[SignedIn, str]:
        """A new session for the user, and the cookie value that carries it. `replacing` is the
        cookie the browser had, whose session ends (a login always gets a fresh id).

        Each attempt is counted as a failure *before* the password is checked and forgiven
        after a success, so parallel guesses cannot slip past the limit while being checked.
        """
        self.key()  # loaded (perhaps made) before the transactions below need it
        now = self.clock()
        address_key = _throttle_key("address", address)
        account_key = _throttle_key("account", name)
        with self.store.write() as tx:
            # A refused attempt raises here, inside the transaction: it leaves no trace.
            address_window = _count(
                tx, address_key, now, self.policy.address_limit, "from your network"
            )
            _count(tx, account_key, now, self.policy.account_limit, "for this account")
            found = tx.user_credentials(name)
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
        with self.store.write() as tx:
            tx.clear_failures(account_key)
            tx.forgive_failure(address_key, address_window)
            if rehashed is not None:
                tx.set_password_hash(user.id, rehashed)
            old = self._live(tx, replacing, now) if replacing else None
            if old is not None:
                tx.revoke_sessions(now, session_id=old.session.id)
            session.id = tx.insert_session(credentials.hash_token(session_id), session)
        signed_in = SignedIn(user, session, session_id)
        return signed_in, self.cookie(signed_in)

    def session(self, cookie: str) -> SignedIn:
        """The live session a cookie names; NotAuthenticated when it is forged, unknown,
        revoked, past its idle or absolute end, or its user is disabled."""
        self.key()
        now = self.clock()
        with self.store.read() as tx:
            signed_in = self._live(tx, cookie, now)
        if signed_in is None:
            raise NotAuthenticated(SESSION_ENDED)
        if now - signed_in.session.last_seen_at >= TOUCH_EVERY:
            with self.store.write() as tx:
                tx.touch_session(signed_in.session.id, now)
            signed_in.session.last_seen_at = now
        return signed_in

    def _live(self, tx: Tx, cookie: str, now: datetime) -> SignedIn | None:
        session_id = credentials.unsign(self.key(), "session", cookie)
        if session_id is None:
            return None
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

    def cookie(self, signed_in: SignedIn) -> str:
        return credentials.sign(self.key(), "session", signed_in.session_id)

    def logout(self, signed_in: SignedIn) -> None:
        with self.store.write() as tx:
            tx.revoke_sessions(self.clock(), session_id=signed_in.session.id)

    def logout_everywhere(self, user: User) -> int:
        """End every session of the user, on every device and node; returns how many."""
        with self.store.write() as tx:
            return tx.revoke_sessions(self.clock(), user_id=user.id)

    # --- CSRF tokens ------------------------------------------------------------------------

    def csrf_token(self, signed_in: SignedIn) -> str:
        """The token every state-changing request of this session must carry: derived from the
        session id, which a page on another site cannot read."""
        return credentials.mac(self.key(), "csrf", signed_in.session_id)

    def csrf_ok(self, signed_in: SignedIn, token: str | None) -> bool:
        return bool(token) and credentials.mac_matches(
            self.key(), "csrf", signed_in.session_id, token or ""
        )

    def login_csrf_token(self, nonce: str) -> str:
        """The login form's token, for the random `nonce` in the browser's login cookie: a
        page on another site can neither read the cookie nor make a matching token."""
        return credentials.mac(self.key(), "login-csrf", nonce)

    def login_csrf_ok(self, nonce: str, token: str | None) -> bool:
        return bool(nonce and token) and credentials.mac_matches(
            self.key(), "login-csrf", nonce, token or ""
        )

    # --- the operator's commands: the CLI (`by` None), the admin page (`by` the admin) ------
    # Each change leaves an audit row in its own transaction (actor "system" for the CLI).

    def users(self, by: User | None = None) -> list[User]:
        if by is not None:
            require(by, Action.MANAGE_USERS)
        with self.store.read() as tx:
            return tx.list_users()

    def team(self, by: User | None = None) -> list[Member]:
        """Every user, by name, with when they were created and their active API tokens."""
        if by is not None:
            require(by, Action.MANAGE_USERS)
        with self.store.read() as tx:
            members = {user.id: Member(user, created) for user, created in tx.users_created()}
            for token_id, user_id, created in tx.active_tokens():
                if user_id in members:
                    members[user_id].tokens.append(TokenInfo(token_id, created))
        return list(members.values())

    def set_password(self, name: str, password: str, by: User | None = None) -> int:
        """Set a new password and end the user's sessions; returns how many were ended."""
        if by is not None:
            require(by, Action.MANAGE_USERS)
        hashed = credentials.hash_password(check_password(password))
        now = self.clock()
        with self.store.write() as tx:
            user = _user(tx, name)
            tx.set_password_hash(user.id, hashed)
            audit.record(tx, now, by, [(AuditAction.USER_PASSWORD, {"user": user.name})])
            return tx.revoke_sessions(now, user_id=user.id)

    def set_disabled(self, name: str, disabled: bool, by: User | None = None) -> int:
        """Disable (ending every session at once) or enable a user; returns sessions ended.
        A disabled user's API tokens stop working too, and work again once enabled. An admin
        cannot disable themselves (the last admin would lock the newsroom out)."""
        if by is not None:
            require(by, Action.MANAGE_USERS)
        now = self.clock()
        with self.store.write() as tx:
            user = _user(tx, name)
            if disabled and by is not None and by.id == user.id:
                raise InvalidState("you cannot disable your own account; another admin can")
            if user.disabled == disabled:
                return 0  # nothing changes, so no audit row
            tx.set_user_disabled(user.id, disabled)
            action = AuditAction.USER_DISABLE if disabled else AuditAction.USER_ENABLE
            audit.record(tx, now, by, [(action, {"user": user.name})])
            return tx.revoke_sessions(now, user_id=user.id) if disabled else 0

    def revoke_token_id(self, name: str, token_id: int, by: User | None = None) -> None:
        """Stop the user's API token with this id working at once (the admin page knows a
        token by its id; the plain token is never stored)."""
        if by is not None:
            require(by, Action.MANAGE_USERS)
        now = self.clock()
        with self.store.write() as tx:
            user = _user(tx, name)
            if not tx.revoke_token_id(token_id, user.id, now):
                raise NotFound(f"{name} has no active API token #{token_id}")
            detail = {"user": user.name, "token": token_id}
            audit.record(tx, now, by, [(AuditAction.TOKEN_REVOKE, detail)])


def purge(tx: Tx, now: datetime) -> tuple[int, int]:
    """For the hourly retention job: delete sessions that ended over SESSIONS_KEPT ago and
    failure counters whose window has passed. Returns (sessions, counters) deleted."""
    return tx.purge_sessions(now - SESSIONS_KEPT), tx.purge_failures(now - WINDOW)


def _count(tx: Tx, key: str, now: datetime, limit: int, whose: str) -> datetime:
    """Count one more attempt for `key`; TooManyAttempts once over `limit` in the window.
    Returns when the window began."""
    failures, window_start = tx.count_failure(key, now, WINDOW)
    if failures > limit:
        wait = max(1, math.ceil((window_start + WINDOW - now).total_seconds()))
        raise TooManyAttempts(
            f"too many failed logins {whose}; try again in {_minutes(wait)}", wait
        )
    return window_start


def _user(tx: Tx, name: str) -> User:
    found = tx.user_credentials(name)
    if found is None:
        raise NotFound(f"no user named {name!r}")
    return found[0]
