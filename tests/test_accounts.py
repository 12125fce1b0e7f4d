"""Accounts without HTTP: session lifetimes on a controlled clock, retention, password resets,
and the storage underneath on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from liveblog import credentials
from liveblog.broadcast.base import NullHub
from liveblog.domain.errors import Forbidden, InvalidInput, NotAuthenticated, NotFound
from liveblog.domain.models import Role
from liveblog.service import Liveblog
from liveblog.storage.sql import SqlStore
from liveblog.usecases.scheduler import run_retention
from liveblog.usecases.sessions import WINDOW, SessionPolicy, SignedIn
from liveblog.web.signing import Signer

from conftest import Team


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Accounts:
    """The service's sessions and users with the web's signer: what a browser's requests use,
    minus HTTP."""

    def __init__(self, store: SqlStore, svc: Liveblog, signer: Signer) -> None:
        self.svc, self.signer, self.store = svc, signer, store
        self.set_password, self.set_disabled, self.users = (
            svc.set_password,
            svc.set_disabled,
            svc.users,
        )
        self.logout = svc.logout
        self.csrf_ok, self.csrf_token = signer.csrf_ok, signer.csrf_token
        self.login_csrf_ok, self.login_csrf_token = signer.login_csrf_ok, signer.login_csrf_token

    def login(self, name: str, password: str, *, address: str) -> tuple[SignedIn, str]:
        signed_in = self.svc.login(name, password, address=address)
        return signed_in, self.signer.session_cookie(signed_in)

    def session(self, cookie: str) -> SignedIn:
        session_id = self.signer.session_id(cookie)
        if session_id is None:
            raise NotAuthenticated("forged cookie")
        return self.svc.session(session_id)


@pytest.fixture
def accounts(store: SqlStore, team: Team, clock: Clock) -> Accounts:
    policy = SessionPolicy(idle=timedelta(hours=12), lifetime=timedelta(days=14))
    svc = Liveblog(store, NullHub(), clock, policy)
    return Accounts(store, svc, Signer(svc))


def cookie_for(accounts: Accounts, name: str = "eddie", password: str = "editor-password") -> str:
    return accounts.login(name, password, address="192.0.2.1")[1]


def flip(value: str) -> str:
    """The value with its first character changed."""
    return ("B" if value[0] != "B" else "C") + value[1:]


def test_a_session_ends_after_the_idle_limit_and_activity_keeps_it_going(
    accounts: Accounts, clock: Clock
) -> None:
    """A session used every 11 hours lives on; one left alone for 12 hours has ended."""
    cookie = cookie_for(accounts)
    for _ in range(3):
        clock.advance(hours=11)
        assert accounts.session(cookie).user.name == "eddie"
    clock.advance(hours=12)
    with pytest.raises(NotAuthenticated, match="session has ended"):
        accounts.session(cookie)


def test_a_session_ends_at_its_absolute_limit_however_busy(
    accounts: Accounts, clock: Clock
) -> None:
    """A session used every hour still ends 14 days after the login."""
    cookie = cookie_for(accounts)
    for _ in range(14 * 24 - 1):
        clock.advance(hours=1)
        accounts.session(cookie)
    clock.advance(hours=1)
    with pytest.raises(NotAuthenticated):
        accounts.session(cookie)


def test_a_tampered_cookie_or_csrf_token_is_refused(accounts: Accounts) -> None:
    """A cookie whose id or signature was changed names no session, and a CSRF token works
    only for the session it was made for."""
    cookie = cookie_for(accounts)
    session_id, signature = cookie.rsplit(".", 1)
    for bad in (session_id, f"{session_id}.{flip(signature)}", f"{flip(session_id)}.{signature}",
                "", ".", "é.é"):  # fmt: skip
        with pytest.raises(NotAuthenticated):
            accounts.session(bad)
    mine, other = accounts.session(cookie), accounts.session(cookie_for(accounts))
    assert accounts.csrf_ok(mine, accounts.csrf_token(mine))
    assert not accounts.csrf_ok(mine, accounts.csrf_token(other))
    assert not accounts.csrf_ok(mine, None) and not accounts.csrf_ok(mine, "é")
    # A login form's token is tied to its nonce, and is not a session's token.
    assert accounts.login_csrf_ok("n" * 43, accounts.login_csrf_token("n" * 43))
    assert not accounts.login_csrf_ok("m" * 43, accounts.login_csrf_token("n" * 43))
    assert not accounts.login_csrf_ok(mine.session_id, accounts.csrf_token(mine))


def test_a_new_password_ends_every_session_and_the_old_password(accounts: Accounts) -> None:
    """Resetting a password ends the user's sessions; the old password no longer works, the
    new one does; a short password or unknown user is refused with a message."""
    cookies = [cookie_for(accounts), cookie_for(accounts)]
    assert accounts.set_password("eddie", "a brand new password") == 2
    for cookie in cookies:
        with pytest.raises(NotAuthenticated):
            accounts.session(cookie)
    with pytest.raises(NotAuthenticated, match="wrong username or password"):
        cookie_for(accounts)
    cookie_for(accounts, password="a brand new password")
    with pytest.raises(InvalidInput, match="at least 8"):
        accounts.set_password("eddie", "short")
    with pytest.raises(NotFound, match="nobody"):
        accounts.set_password("nobody", "long enough password")


def test_only_admins_manage_users_when_a_user_asks(accounts: Accounts, team: Team) -> None:
    """With `by` given (the coming admin page) an editor may not disable anyone; an admin may."""
    with pytest.raises(Forbidden):
        accounts.set_disabled("cora", True, by=team.editor)
    assert accounts.set_disabled("cora", True, by=team.admin) == 0
    assert [u.name for u in accounts.users(by=team.admin) if u.disabled] == ["cora"]


def test_a_user_without_a_password_cannot_log_in(accounts: Accounts, svc: Liveblog) -> None:
    """A token-only user (no password) gets the same refusal as a wrong password."""
    svc.create_user("robot", Role.EDITOR, None)
    with pytest.raises(NotAuthenticated, match="wrong username or password"):
        accounts.login("robot", "", address="192.0.2.1")


def test_retention_purges_ended_sessions_and_old_counters_only(
    accounts: Accounts, svc: Liveblog, clock: Clock
) -> None:
    """The hourly retention job deletes sessions that ended over a week ago and failure
    counters whose window has passed, and keeps live sessions and current counters."""
    svc.clock = clock
    ended = cookie_for(accounts)
    accounts.logout(accounts.session(ended))
    with pytest.raises(NotAuthenticated):
        accounts.login("eddie", "wrong", address="192.0.2.9")
    clock.advance(days=8)
    live = cookie_for(accounts, "ada", "admin-password")
    with pytest.raises(NotAuthenticated):
        accounts.login("cora", "wrong", address="192.0.2.10")
    assert run_retention(svc, "test-node")
    with accounts.store.read() as tx:
        sessions = tx.conn.exec_driver_sql("SELECT user_id FROM sessions").scalars().all()
        counters = tx.conn.exec_driver_sql("SELECT count(*) FROM login_failures").scalar_one()
    assert sessions == [accounts.session(live).user.id]
    assert counters == 2  # cora's account and 192.0.2.10, not eddie's or 192.0.2.9


# --- the storage underneath, on both backends --------------------------------------------------


def test_concurrent_failures_each_get_their_own_count(any_store: SqlStore) -> None:
    """Eight writers counting failures on one key at once get the counts 1 to 8, once each:
    the count is one atomic statement, so no attempt slips past a limit unseen."""
    now = datetime.now(UTC)
    counts: list[int] = []
    barrier = threading.Barrier(8)

    def fail() -> None:
        barrier.wait()
        with any_store.write() as tx:
            counts.append(tx.count_failure("k" * 64, now, WINDOW)[0])

    threads = [threading.Thread(target=fail) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(counts) == list(range(1, 9))


def test_a_failure_window_starts_at_the_first_failure_and_then_starts_over(
    any_store: SqlStore,
) -> None:
    """Counts add up within 15 minutes of a series' first failure; the next failure after
    that starts a new window at 1; forgiving takes one back from the current window only."""
    start = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
    with any_store.write() as tx:
        assert tx.count_failure("a", start, WINDOW) == (1, start)
        assert tx.count_failure("a", start + timedelta(minutes=14), WINDOW) == (2, start)
        tx.forgive_failure("a", start)
        assert tx.count_failure("a", start + timedelta(minutes=14), WINDOW) == (2, start)
        later = start + timedelta(minutes=15)
        assert tx.count_failure("a", later, WINDOW) == (1, later)
        tx.forgive_failure("a", start)  # an old window: nothing to take back
        assert tx.count_failure("a", later, WINDOW) == (2, later)
        assert tx.purge_failures(later) == 0
        assert tx.purge_failures(later + timedelta(seconds=1)) == 1


def test_nodes_making_the_signing_key_at_once_share_one(any_store: SqlStore) -> None:
    """Four nodes that find no signing key and each make one at the same moment all end up
    with the same key: the first one committed."""
    keys: list[bytes] = []
    barrier = threading.Barrier(4)

    def start_node() -> None:
        barrier.wait()
        keys.append(Signer(Liveblog(any_store, NullHub())).key())

    threads = [threading.Thread(target=start_node) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 4 and len(set(keys)) == 1
    assert len(keys[0]) >= 32 and Signer(Liveblog(any_store, NullHub())).key() == keys[0]


def test_a_configured_key_is_used_and_nothing_is_stored(store: SqlStore) -> None:
    """With LIVEBLOG_SECRET_KEY set, that key signs and the database keeps no key at all."""
    key = b"k" * 40
    signer = Signer(Liveblog(store, NullHub()), key)
    assert signer.key() == key
    assert credentials.unsign(key, "session", credentials.sign(key, "session", "v")) == "v"
    with store.read() as tx:
        assert tx.conn.exec_driver_sql("SELECT count(*) FROM secrets").scalar_one() == 0
