"""Logging in and out over real HTTP: the session cookie, CSRF, expiry, throttling, trusted
proxies and disabled users, each refusal clear and changing nothing."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text, update

from liveblog.domain.models import Role
from liveblog.storage.schema import sessions
from liveblog.web.login import safe_next
from liveblog.web.security import CSP

from cluster import Cluster, Node, editor_token
from conftest import LiveServer, Tokens, auth

EDITOR = ("eddie", "editor-password")


def csrf_in(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html) or re.search(
        r'name="csrf-token" content="([^"]+)"', html
    )
    assert match is not None, html
    return match.group(1)


def log_in(
    http: httpx.Client,
    name: str,
    password: str,
    next_path: str = "/desk",
    *,
    form_from: str = "",
    post_to: str = "",
    **headers: str,
) -> httpx.Response:
    """What a browser does: fetch the form (and its login cookie), then post it; `form_from`
    and `post_to` name other nodes to do each on."""
    page = http.get(f"{form_from}/login", params={"next": next_path}, headers=headers)
    assert page.status_code == 200, page.text
    form = {"username": name, "password": password, "csrf": csrf_in(page.text), "next": next_path}
    return http.post(f"{post_to}/login", data=form, headers=headers)


def desk_csrf(http: httpx.Client, node: str = "") -> str:
    page = http.get(f"{node}/desk")
    assert page.status_code == 200, page.text
    return csrf_in(page.text)


def error_text(html: str) -> str:
    match = re.search(r'<p class="form-error"[^>]*>([^<]*)</p>', html)
    assert match is not None, html
    return match.group(1)


def session_cookie_header(response: httpx.Response) -> str:
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith("lb_session=")]
    assert len(found) == 1, response.headers
    return found[0]


def sets_session(response: httpx.Response) -> bool:
    return any(
        h.startswith("lb_session=") and 'lb_session=""' not in h
        for h in response.headers.get_list("set-cookie")
    )


@pytest.fixture
def browser(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=10) as client:
        yield client


@pytest.fixture
def signed_in(browser: httpx.Client) -> httpx.Client:
    """A browser logged in as the editor."""
    response = log_in(browser, *EDITOR)
    assert response.status_code == 303, response.text
    return browser


def server(tmp_path: Path, name: str, **settings: object) -> LiveServer:
    """A server with other settings, on a database of its own with the same team."""
    data = tmp_path / name
    data.mkdir()
    node = LiveServer(f"sqlite:///{data / 'liveblog.sqlite3'}", data, **settings).start()
    for user, role, password in (
        ("ada", Role.ADMIN, "admin-password"),
        ("eddie", Role.EDITOR, "editor-password"),
        ("cora", Role.CONTRIBUTOR, "contrib-password"),
    ):
        node.svc.create_user(user, role, password)
    return node


# --- logging in ------------------------------------------------------------------------------


def test_login_sets_an_httponly_samesite_cookie_and_the_desk_shows_the_user(
    browser: httpx.Client, live: LiveServer
) -> None:
    """A right password gets a 303 to /desk with an HttpOnly, SameSite=Lax session cookie
    (not Secure over plain HTTP), and /desk then names the user and role."""
    response = log_in(browser, *EDITOR)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/desk"
    cookie = session_cookie_header(response)
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "samesite", "path"} <= attributes and "secure" not in attributes
    assert "samesite=lax" in cookie.lower() and "path=/" in cookie.lower()
    desk = browser.get("/desk")
    assert desk.status_code == 200
    assert "Logged in as <strong" in desk.text and "eddie" in desk.text and "(editor)" in desk.text
    assert desk.headers["cache-control"] == "private, no-store"
    # The database holds the session id's hash only, never the id the cookie carries.
    session_id = browser.cookies["lb_session"].rsplit(".", 1)[0]
    with live.app.state.store.read() as tx:
        stored = tx.conn.execute(text("SELECT token_hash FROM sessions")).scalars().all()
    assert len(stored) == 1 and session_id not in stored[0]


def test_login_and_desk_pages_keep_the_strict_csp(signed_in: httpx.Client) -> None:
    """The login and desk pages carry the strict CSP and no inline script or style."""
    page = signed_in.get("/desk")
    assert page.headers["content-security-policy"] == CSP
    inline_scripts = re.findall(r"<script(?![^>]*\bsrc=)", page.text)  # scripts only from files
    assert inline_scripts == [] and " style=" not in page.text and "<style" not in page.text
    with httpx.Client(base_url=str(signed_in.base_url)) as fresh:
        login_page = fresh.get("/login")
    assert login_page.headers["content-security-policy"] == CSP
    assert "<script" not in login_page.text and " style=" not in login_page.text


def test_wrong_password_and_unknown_user_get_the_same_401_and_no_cookie(
    production_passwords: None, browser: httpx.Client
) -> None:
    """A wrong password and an unknown user name get the same 401 page, no session cookie,
    and take about as long (argon2 runs for unknown names too)."""
    timings: dict[str, list[float]] = {"wrong": [], "unknown": []}
    texts = set()
    for _ in range(2):
        for kind, name in (("wrong", "eddie"), ("unknown", "nobody-here")):
            started = time.perf_counter()
            response = log_in(browser, name, "not-the-password")
            timings[kind].append(time.perf_counter() - started)
            assert response.status_code == 401, response.text
            assert not sets_session(response)
            texts.add(error_text(response.text))
    assert texts == {"Wrong username or password."}
    assert "lb_session" not in browser.cookies
    assert statistics.median(timings["unknown"]) > 0.5 * statistics.median(timings["wrong"])


def test_login_only_redirects_to_desk_paths_on_this_site(browser: httpx.Client) -> None:
    """`next` is followed only to a local path under /desk; anything else goes to /desk."""
    assert safe_next("/desk/blogs/storm?tab=drafts") == "/desk/blogs/storm?tab=drafts"
    for bad in ("https://evil.example/desk", "//evil.example/desk", "/\\evil.example", "/blogs",
                "/desk-evil", "desk", "/desk\r\nSet-Cookie: x=1", "", None):  # fmt: skip
        assert safe_next(bad) == "/desk", bad
    response = log_in(browser, *EDITOR, next_path="https://evil.example/desk")
    assert response.headers["location"] == "/desk"


def test_login_without_the_login_forms_token_is_refused(live: LiveServer) -> None:
    """A login posted from another site (no login cookie, or a token that does not match it)
    is 403 and starts no session: no one can log a browser into their own account."""
    credentials = {"username": "eddie", "password": "editor-password"}
    with httpx.Client(base_url=live.url) as attacker_page:
        bare = attacker_page.post("/login", data=credentials)
        attacker_page.cookies.set("lb_login", "y" * 43)
        forged = attacker_page.post("/login", data={**credentials, "csrf": "x" * 43})
    for response in (bare, forged):
        assert response.status_code == 403, response.text
        assert "CSRF token" in response.text and not sets_session(response)


def test_a_new_login_replaces_the_browsers_old_session(signed_in: httpx.Client) -> None:
    """Logging in again gets a new session id, and the old one stops working."""
    old = signed_in.cookies["lb_session"]
    assert signed_in.get("/login").status_code == 303  # logged in: on to the desk
    with httpx.Client(base_url=str(signed_in.base_url)) as tab:
        form = tab.get("/login")
        signed_in.cookies.set("lb_login", tab.cookies["lb_login"])
    data = {"username": "eddie", "password": "editor-password", "csrf": csrf_in(form.text)}
    assert signed_in.post("/login", data=data).status_code == 303
    new = signed_in.cookies["lb_session"]
    assert new != old
    with httpx.Client(base_url=str(signed_in.base_url), cookies={"lb_session": old}) as stale:
        assert stale.get("/desk").status_code == 303


# --- sessions end ------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["absolute", "idle"])
def test_an_expired_session_sends_the_desk_to_the_login_page(
    signed_in: httpx.Client, live: LiveServer, how: str
) -> None:
    """A session past its absolute end, or unused for longer than the idle limit, redirects
    /desk to /login?next=/desk and is 401 on the API."""
    now = live.svc.clock()
    values = (
        {"expires_at": now - timedelta(seconds=1)}
        if how == "absolute"
        else {"last_seen_at": now - timedelta(hours=12, seconds=1)}
    )
    with live.app.state.store.write() as tx:
        tx.conn.execute(update(sessions).values(**values))
    api = signed_in.post("/api/blogs", json={"slug": "x", "title": "X"})
    assert api.status_code == 401 and "session has ended" in api.json()["error"]
    desk = signed_in.get("/desk")
    assert desk.status_code == 303
    assert desk.headers["location"] == "/login?next=%2Fdesk"


def test_logout_needs_the_sessions_csrf_token(signed_in: httpx.Client) -> None:
    """Logging out with a missing or forged CSRF token is 403 and the session lives on; with
    the right token the session ends and the cookie is cleared."""
    token = desk_csrf(signed_in)
    for form in ({}, {"csrf": "forged" + token[6:]}):
        refused = signed_in.post("/logout", data=form)
        assert refused.status_code == 403, refused.text
        assert "CSRF token" in refused.text
        assert signed_in.get("/desk").status_code == 200
    done = signed_in.post("/logout", data={"csrf": token})
    assert done.status_code == 303 and done.headers["location"] == "/login?out=1"
    assert "lb_session" not in signed_in.cookies
    assert signed_in.get("/desk").status_code == 303


def test_logout_everywhere_ends_every_session_of_the_user(live: LiveServer) -> None:
    """ "Log out everywhere" from one browser ends the user's sessions in every browser, and
    needs the CSRF token like any other change."""
    with httpx.Client(base_url=live.url) as phone, httpx.Client(base_url=live.url) as laptop:
        for browser in (phone, laptop):
            assert log_in(browser, *EDITOR).status_code == 303
        assert phone.post("/logout-everywhere", data={}).status_code == 403
        assert laptop.get("/desk").status_code == 200
        done = phone.post("/logout-everywhere", data={"csrf": desk_csrf(phone)})
        assert done.headers["location"] == "/login?out=everywhere"
        assert laptop.get("/desk").status_code == 303
        assert phone.get("/desk").status_code == 303


# --- the API with the session cookie -----------------------------------------------------------


def test_the_api_takes_the_session_cookie_with_the_csrf_header(
    signed_in: httpx.Client, tokens: Tokens
) -> None:
    """A POST to the API with the session cookie and no or a forged X-CSRF-Token is 403 and
    creates nothing; with the right token it works, what it reads is marked private, and
    bearer tokens still need no CSRF."""
    blog = {"slug": "by-cookie", "title": "By cookie"}
    token = desk_csrf(signed_in)
    for headers in ({}, {"X-CSRF-Token": token[:-2] + "xx"}):
        refused = signed_in.post("/api/blogs", json=blog, headers=headers)
        assert refused.status_code == 403, refused.text
        assert "X-CSRF-Token" in refused.json()["error"]
        assert signed_in.get("/api/blogs/by-cookie").status_code == 404
    made = signed_in.post("/api/blogs", json=blog, headers={"X-CSRF-Token": token})
    assert made.status_code == 201, made.text
    draft = signed_in.post(
        "/api/blogs/by-cookie/entries",
        json={"body": "not yet", "status": "draft"},
        headers={"X-CSRF-Token": token},
    )
    assert draft.status_code == 201, draft.text
    # A read needs no CSRF token; what it shows a signed-in user no shared cache may keep.
    seen = signed_in.get(f"/api/blogs/by-cookie/entries/{draft.json()['id']}")
    assert seen.status_code == 200 and seen.headers["cache-control"] == "private, no-store"
    with httpx.Client(base_url=str(signed_in.base_url)) as script:
        by_token = script.post(
            "/api/blogs", json={"slug": "by-token", "title": "T"}, headers=auth(tokens.editor)
        )
    # A token's answers are private too: with s-maxage on public responses, a shared cache
    # would otherwise be allowed to store them (RFC 9111, section 3.5).
    assert by_token.status_code == 201
    assert by_token.headers["cache-control"] == "private, no-store"


# --- throttling --------------------------------------------------------------------------------


def test_five_failures_lock_the_account_even_for_the_right_password(
    browser: httpx.Client,
) -> None:
    """After 5 wrong passwords for an account, the right one is 429 with the wait in minutes
    and a Retry-After header; other accounts from the same address still log in."""
    for _ in range(5):
        assert log_in(browser, "eddie", "guess").status_code == 401
    locked = log_in(browser, *EDITOR)
    assert locked.status_code == 429, locked.text
    assert error_text(locked.text) == (
        "Too many failed logins for this account; try again in 15 minutes."
    )
    assert 800 < int(locked.headers["retry-after"]) <= 900
    assert not sets_session(locked)
    assert log_in(browser, "ada", "admin-password").status_code == 303


def test_failures_from_one_address_lock_it_for_every_account(
    browser: httpx.Client, live: LiveServer
) -> None:
    """After 20 failed logins from one address (any user names), a right password from there
    is 429 too."""
    assert live.svc.policy.address_limit == 20
    for n in range(20):
        assert log_in(browser, f"someone-{n}", "guess").status_code == 401
    locked = log_in(browser, *EDITOR)
    assert locked.status_code == 429
    assert "from your network" in error_text(locked.text)


def test_a_success_clears_the_accounts_failures_but_not_the_addresss(tmp_path: Path) -> None:
    """A successful login forgets the account's failures (4 more are allowed) but not the
    address's: with a limit of 10 per address, the 11th failure from it is refused."""
    node = server(tmp_path, "limits", login_address_limit=10)
    try:
        with httpx.Client(base_url=node.url) as http:
            for _ in range(2):
                for _ in range(4):
                    assert log_in(http, "eddie", "guess").status_code == 401
                assert log_in(http, *EDITOR).status_code == 303
                http.cookies.clear()
            assert log_in(http, "cora", "guess").status_code == 401
            assert log_in(http, "cora", "guess").status_code == 401
            assert log_in(http, "cora", "contrib-password").status_code == 429
    finally:
        node.stop()


def test_parallel_guesses_cannot_pass_the_account_limit(browser: httpx.Client) -> None:
    """Twenty wrong passwords sent at once get at most 5 answers of 401; the rest are 429."""
    from concurrent.futures import ThreadPoolExecutor

    page = browser.get("/login")
    form = {"username": "eddie", "password": "guess", "csrf": csrf_in(page.text)}
    cookies = {"lb_login": browser.cookies["lb_login"]}

    def attempt(_: int) -> int:
        with httpx.Client(base_url=str(browser.base_url), cookies=cookies, timeout=30) as c:
            return c.post("/login", data=form).status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(attempt, range(20)))
    assert statuses.count(401) == 5 and statuses.count(429) == 15, statuses


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(
    tmp_path: Path, live: LiveServer
) -> None:
    """Behind a trusted proxy each X-Forwarded-For client is throttled apart, by the right-most
    address the proxy added (a spoofed left part changes nothing), and X-Forwarded-Proto
    https makes the cookie Secure; from an untrusted peer both headers are ignored."""
    proxied = server(tmp_path, "proxied", trusted_proxies="10.0.0.0/8, 127.0.0.1")
    try:
        with httpx.Client(base_url=proxied.url) as http:
            client = {"X-Forwarded-For": "198.51.100.7"}
            for n in range(20):
                assert log_in(http, f"x{n}", "guess", **client).status_code == 401
            assert log_in(http, *EDITOR, **client).status_code == 429
            spoofed = {"X-Forwarded-For": "203.0.113.1, 198.51.100.7, 10.1.2.3"}
            assert log_in(http, *EDITOR, **spoofed).status_code == 429
            other = {"X-Forwarded-For": "198.51.100.8"}
            form = http.get("/login", headers=other)
            ok = http.post(
                "/login",
                data={
                    "username": "eddie",
                    "password": "editor-password",
                    "csrf": csrf_in(form.text),
                },
                headers={**other, "X-Forwarded-Proto": "https"},
            )
            assert ok.status_code == 303, ok.text
            assert "secure" in session_cookie_header(ok).lower()
        with proxied.app.state.store.read() as tx:
            addresses = tx.conn.execute(text("SELECT address FROM sessions")).scalars().all()
        assert addresses == ["198.51.100.8"]
    finally:
        proxied.stop()

    with httpx.Client(base_url=live.url) as http:  # trusts no proxy (the default)
        for n in range(20):
            spoof = {"X-Forwarded-For": f"192.0.2.{n}", "X-Forwarded-Proto": "https"}
            assert log_in(http, f"y{n}", "guess", **spoof).status_code == 401
        locked = log_in(http, *EDITOR, **{"X-Forwarded-For": "192.0.2.200"})
        assert locked.status_code == 429


def test_an_untrusted_forwarded_proto_does_not_make_the_cookie_secure(
    browser: httpx.Client,
) -> None:
    """X-Forwarded-Proto: https from a peer that is not a trusted proxy is ignored."""
    response = log_in(browser, *EDITOR, **{"X-Forwarded-Proto": "https"})
    assert response.status_code == 303
    assert "secure" not in session_cookie_header(response).lower()


# --- disabled users ----------------------------------------------------------------------------


def test_a_disabled_user_cannot_log_in_and_their_sessions_stop_at_once(
    signed_in: httpx.Client, live: LiveServer, tokens: Tokens
) -> None:
    """Disabling a user ends their open session on its next request, refuses their right
    password with 403 and no cookie, and refuses their API token; enabling lets them in."""
    accounts = live.svc
    accounts.set_disabled("eddie", True)
    assert signed_in.get("/desk").status_code == 303
    refused = log_in(signed_in, *EDITOR)
    assert refused.status_code == 403 and "disabled" in error_text(refused.text)
    assert not sets_session(refused)
    by_token = signed_in.post(
        "/api/blogs", json={"slug": "x", "title": "X"}, headers=auth(tokens.editor)
    )
    assert by_token.status_code == 401
    accounts.set_disabled("eddie", False)
    assert log_in(signed_in, *EDITOR).status_code == 303


# --- two nodes on one PostgreSQL database -------------------------------------------------------


@pytest.fixture
def two_nodes(cluster: Cluster, pg_url: str) -> tuple[Node, Node]:
    """Nodes A and B (`liveblog serve` processes), and the editor, made before they start."""
    editor_token(pg_url)
    a, b = cluster.start("A", "B")
    return a, b


def test_failures_on_one_node_lock_the_account_on_the_other(two_nodes: tuple[Node, Node]) -> None:
    """Three failures through node A and two through node B lock the account on both: the
    sixth attempt, with the right password, is 429 on B and on A."""
    a, b = two_nodes
    with httpx.Client(timeout=10) as browser:  # cookies are per host, not port: one browser
        for node in (a, a, a, b, b):
            failed = log_in(browser, "eddie", "guess", form_from=node.url, post_to=node.url)
            assert failed.status_code == 401, failed.text
        for node in (b, a):
            locked = log_in(browser, *EDITOR, form_from=node.url, post_to=node.url)
            assert locked.status_code == 429, node
            assert "try again in 15 minutes" in error_text(locked.text)


def test_logout_everywhere_on_one_node_ends_a_session_used_on_another(
    two_nodes: tuple[Node, Node],
) -> None:
    """A session made on node B (from a form served by A: the nodes share the signing key) and
    one made on A both work on either node, until "log out everywhere" on A ends the one in use
    on B: its next desk page and API call on B are refused."""
    a, b = two_nodes
    with httpx.Client(timeout=10) as laptop, httpx.Client(timeout=10) as phone:
        assert log_in(laptop, *EDITOR, form_from=a.url, post_to=b.url).status_code == 303
        assert log_in(phone, *EDITOR, form_from=a.url, post_to=a.url).status_code == 303
        for browser in (laptop, phone):
            for node in (a, b):
                assert browser.get(f"{node.url}/desk").status_code == 200
        token = desk_csrf(laptop, b.url)
        done = phone.post(f"{a.url}/logout-everywhere", data={"csrf": desk_csrf(phone, a.url)})
        assert done.status_code == 303
        api = laptop.post(
            f"{b.url}/api/blogs", json={"slug": "s", "title": "T"}, headers={"X-CSRF-Token": token}
        )
        assert api.status_code == 401, api.text
        assert laptop.get(f"{b.url}/desk").status_code == 303
