"""The admin page over real HTTP: an admin creates users, disables and enables them, resets
passwords and makes and revokes API tokens; anyone else, and any form without its CSRF token,
is refused and changes nothing; every change leaves its audit row."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from liveblog.broadcast.base import NullHub
from liveblog.domain.errors import NotAuthenticated, NotFound
from liveblog.domain.models import Role
from liveblog.service import Liveblog
from liveblog.storage.sql import SqlStore
from liveblog.web.security import CSP

from conftest import LiveServer, Tokens, auth
from test_login import EDITOR, csrf_in, error_text, log_in

ADMIN = ("ada", "admin-password")
CONTRIBUTOR = ("cora", "contrib-password")


@pytest.fixture
def admin(live: LiveServer) -> Iterator[httpx.Client]:
    """A browser logged in as the admin."""
    with httpx.Client(base_url=live.url, timeout=10) as client:
        assert log_in(client, *ADMIN).status_code == 303
        yield client


def submit(client: httpx.Client, path: str, **fields: str) -> httpx.Response:
    """Post a form of the admin page, with the CSRF token the page carries."""
    page = client.get("/desk/admin")
    assert page.status_code == 200, page.text
    return client.post(path, data={"csrf": csrf_in(page.text), **fields})


def notice_after(client: httpx.Client, response: httpx.Response) -> str:
    """The one-line notice of the page a 303 sends the admin back to."""
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/desk/admin?")
    page = client.get(response.headers["location"])
    match = re.search(r'<p class="notice" role="status" id="notice">([^<]*)</p>', page.text)
    assert match is not None, page.text
    return match.group(1)


def section(page: str, name: str) -> str:
    """The part of the admin page about one user."""
    match = re.search(rf'<section id="user-{re.escape(name)}".*?</section>', page, re.S)
    assert match is not None, page
    return match.group(0)


def shown_token(response: httpx.Response) -> str:
    """The token on the page that answers "Create an API token"."""
    match = re.search(r'<code id="new-token" class="token">([^<]+)</code>', response.text)
    assert match is not None, response.text
    return match.group(1)


def token_ids(client: httpx.Client, name: str) -> list[str]:
    return re.findall(
        r"Token <strong>#(\d+)</strong>", section(client.get("/desk/admin").text, name)
    )


def snapshot(live: LiveServer) -> dict[str, Any]:
    """Everything the admin page can change: users, password hashes, tokens, sessions, audit."""
    with live.app.state.store.read() as tx:
        users = [(u.name, u.role, u.disabled) for u, _ in tx.users_created()]
        hashes = [tx.user_credentials(name) for name, _, _ in users]
        tokens = tx.active_tokens()
        ended = tx.conn.execute(text("SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL"))
        audit = tx.conn.execute(text("SELECT count(*) FROM audit_log"))
        return {
            "users": users,
            "hashes": hashes,
            "tokens": tokens,
            "sessions ended": ended.scalar_one(),
            "audit rows": audit.scalar_one(),
        }


def every_form(live: LiveServer) -> list[str]:
    """The path of every form the admin page posts, for a real user and token."""
    live.svc.create_token("cora")
    with live.app.state.store.read() as tx:
        cora = tx.user_by_name("cora")
        assert cora is not None
        token_id = next(i for i, user_id, _ in tx.active_tokens() if user_id == cora.id)
    return [
        "/desk/admin/users",
        "/desk/admin/users/cora/disable",
        "/desk/admin/users/cora/enable",
        "/desk/admin/users/cora/password",
        "/desk/admin/users/cora/tokens",
        f"/desk/admin/users/cora/tokens/{token_id}/revoke",
    ]


FORM_FIELDS = {"name": "mallory", "role": "admin", "password": "a long password"}


# --- creating users ----------------------------------------------------------------------------


def test_an_admin_creates_a_user_who_can_then_log_in(admin: httpx.Client, live: LiveServer) -> None:
    """A new user made on the page is listed with role, state, creation time and no tokens, the
    notice says so, and they log in with the initial password at once."""
    made = submit(
        admin, "/desk/admin/users", name="nina", role="contributor", password="first password"
    )
    assert notice_after(admin, made) == "nina can now log in."
    page = admin.get("/desk/admin").text
    row = re.search(r'<tr class="is-active" data-user="nina">.*?</tr>', page, re.S)
    assert row is not None, page
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)
    assert cells[0] == "contributor" and cells[1] == "active" and cells[3] == "0"
    assert re.search(
        r'^<time datetime="\d{4}-\d\d-\d\dT[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>$',
        re.sub(r"</?span>", "", cells[2]),
    )
    with httpx.Client(base_url=live.url) as nina:
        assert log_in(nina, "nina", "first password").status_code == 303
        assert "(contributor)" in nina.get("/desk").text


def test_the_page_keeps_the_strict_csp_and_no_cache_may_keep_it(admin: httpx.Client) -> None:
    """The admin page carries the strict CSP, no inline script or style, and is private."""
    page = admin.get("/desk/admin")
    assert page.headers["content-security-policy"] == CSP
    assert page.headers["cache-control"] == "private, no-store"
    assert "<script" not in page.text and " style=" not in page.text and "<style" not in page.text


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"name": "ni na", "role": "editor"}, 422, "Name: use 1-64 letters, digits"),
        ({"name": "nina", "role": "chief"}, 422, "Role: choose admin, editor or contributor."),
        ({"name": "nina", "role": ""}, 422, "Role: choose admin, editor or contributor."),
        ({"name": "eddie", "role": "editor"}, 409, "A user named 'eddie' already exists."),
        ({"name": "nina", "role": "editor", "password": "short"}, 422, "Password: must be at"),
        ({"name": "nina", "role": "editor", "password": ""}, 422, "Password: must be at"),
    ],
)
def test_bad_input_shows_the_form_again_with_its_values_and_creates_nobody(
    admin: httpx.Client, live: LiveServer, fields: dict[str, str], status: int, message: str
) -> None:
    """A bad name, role or password, or a taken name, is refused with a clear message by the
    form, the name and role kept (never the password), and no user is made."""
    before = snapshot(live)
    refused = submit(admin, "/desk/admin/users", **{"password": "long enough 1", **fields})
    assert refused.status_code == status, refused.text
    assert html.unescape(error_text(refused.text)).startswith(message)
    form = re.search(r'<section id="create".*?</section>', refused.text, re.S)
    assert form is not None and 'class="form-error" id="error-create-create"' in form.group(0)
    assert f'name="name" type="text" value="{fields["name"]}"' in form.group(0)
    if fields["role"] == "editor":
        assert '<option value="editor" selected>' in form.group(0)
    assert "long enough 1" not in refused.text
    assert snapshot(live) == before


# --- disabling, enabling, passwords -------------------------------------------------------------


def test_disabling_a_user_ends_their_session_at_once_and_refuses_their_login(
    admin: httpx.Client, live: LiveServer
) -> None:
    """Once an admin disables an editor, the editor's open session is refused on its very next
    request and their right password gets 403; enabled again, they log in."""
    with httpx.Client(base_url=live.url) as eddie:
        assert log_in(eddie, *EDITOR).status_code == 303
        assert eddie.get("/desk").status_code == 200
        done = submit(admin, "/desk/admin/users/eddie/disable")
        assert notice_after(admin, done).startswith("eddie is disabled: logged out everywhere")
        assert eddie.get("/desk").headers["location"] == "/login?next=%2Fdesk"
        refused = log_in(eddie, *EDITOR)
        assert refused.status_code == 403 and "disabled" in error_text(refused.text)
        page = admin.get("/desk/admin").text
        assert '<tr class="is-disabled" data-user="eddie">' in page
        assert 'action="/desk/admin/users/eddie/enable"' in section(page, "eddie")
        enabled = submit(admin, "/desk/admin/users/eddie/enable")
        assert notice_after(admin, enabled) == "eddie is enabled again."
        assert log_in(eddie, *EDITOR).status_code == 303


def test_an_admin_cannot_disable_themselves(admin: httpx.Client, live: LiveServer) -> None:
    """The page offers no button to disable yourself, and a post that tries is 409 with a
    message: the admin stays active and logged in."""
    page = admin.get("/desk/admin").text
    assert "/desk/admin/users/ada/disable" not in page
    assert "another admin can disable your account" in section(page, "ada")
    before = snapshot(live)
    refused = submit(admin, "/desk/admin/users/ada/disable")
    assert refused.status_code == 409, refused.text
    assert error_text(refused.text).startswith("You cannot disable your own account")
    assert snapshot(live) == before
    assert admin.get("/desk/admin").status_code == 200


def test_a_password_reset_ends_the_users_sessions_and_the_new_password_works(
    admin: httpx.Client, live: LiveServer
) -> None:
    """A reset ends every session of the user on its next request; the old password is then
    refused and the new one works. A short one is refused by its form and ends nothing."""
    with httpx.Client(base_url=live.url) as phone, httpx.Client(base_url=live.url) as laptop:
        for browser in (phone, laptop):
            assert log_in(browser, *EDITOR).status_code == 303
        before = snapshot(live)
        short = submit(admin, "/desk/admin/users/eddie/password", password="short")
        assert short.status_code == 422
        assert 'id="error-eddie-password"' in section(short.text, "eddie")
        assert "at least 8 characters" in section(short.text, "eddie")
        assert snapshot(live) == before and laptop.get("/desk").status_code == 200

        done = submit(admin, "/desk/admin/users/eddie/password", password="brand new secret")
        assert notice_after(admin, done) == "eddie has a new password; their sessions have ended."
        assert phone.get("/desk").status_code == 303 and laptop.get("/desk").status_code == 303
        assert log_in(phone, *EDITOR).status_code == 401
        assert log_in(phone, "eddie", "brand new secret").status_code == 303


# --- API tokens ---------------------------------------------------------------------------------


def test_a_new_token_is_shown_once_works_on_the_api_and_stops_when_revoked(
    admin: httpx.Client, live: LiveServer
) -> None:
    """The token page shows the new token once with a warning (never cached, never stored in
    plain text); the token works as a Bearer token, the page lists it by number only, and
    revoking it makes the API answer 401 at once."""
    made = submit(admin, "/desk/admin/users/eddie/tokens")
    assert made.status_code == 200 and made.headers["cache-control"] == "private, no-store"
    assert "Copy this token now." in made.text and "never again" in made.text
    token = shown_token(made)
    assert admin.get("/api/audit", headers=auth(token)).status_code == 200

    page = admin.get("/desk/admin").text
    assert token not in page
    assert re.search(r'data-user="eddie">.*?<td class="token-count">1</td>', page, re.S)
    with live.app.state.store.read() as tx:
        stored = tx.conn.execute(text("SELECT token_hash FROM api_tokens")).scalars().all()
    assert len(stored) == 1 and token not in stored[0] and stored[0] not in page
    (token_id,) = token_ids(admin, "eddie")

    # Only the user's own token, by a number that exists.
    for path in (f"/desk/admin/users/cora/tokens/{token_id}/revoke",
                 "/desk/admin/users/eddie/tokens/abc/revoke",
                 "/desk/admin/users/eddie/tokens/99999999999999/revoke"):  # fmt: skip
        wrong = submit(admin, path)
        assert wrong.status_code == 404, path
        assert "has no active API token" in error_text(wrong.text)
    assert admin.get("/api/audit", headers=auth(token)).status_code == 200

    revoked = submit(admin, f"/desk/admin/users/eddie/tokens/{token_id}/revoke")
    assert notice_after(admin, revoked).startswith("An API token of eddie is revoked")
    assert admin.get("/api/audit", headers=auth(token)).status_code == 401
    assert token_ids(admin, "eddie") == []
    again = submit(admin, f"/desk/admin/users/eddie/tokens/{token_id}/revoke")
    assert again.status_code == 404


def test_tokens_are_listed_oldest_first_by_number(admin: httpx.Client, live: LiveServer) -> None:
    """Each active token of a user is listed by its number and creation time, oldest first."""
    for _ in range(2):
        assert submit(admin, "/desk/admin/users/cora/tokens").status_code == 200
    ids = token_ids(admin, "cora")
    assert len(ids) == 2 and int(ids[0]) < int(ids[1])
    assert token_ids(admin, "eddie") == []


# --- who may: only admins, only with the CSRF token ----------------------------------------------


@pytest.mark.parametrize("who", [EDITOR, CONTRIBUTOR], ids=["editor", "contributor"])
def test_editors_and_contributors_are_refused_everything(
    live: LiveServer, who: tuple[str, str]
) -> None:
    """An editor or a contributor gets 403 for the page and for every form, even with their
    own valid CSRF token, and nothing changes."""
    paths = every_form(live)
    with httpx.Client(base_url=live.url) as browser:
        assert log_in(browser, *who).status_code == 303
        page = browser.get("/desk/admin")
        assert page.status_code == 403 and "Only admins can manage" in page.text
        csrf = csrf_in(browser.get("/desk").text)
        before = snapshot(live)
        for path in paths:
            refused = browser.post(path, data={"csrf": csrf, **FORM_FIELDS})
            assert refused.status_code == 403, path
            assert "Only admins can manage" in refused.text
        assert snapshot(live) == before


def test_without_a_session_everything_goes_to_the_login_page(live: LiveServer) -> None:
    """Without a session the page and every form redirect to /login, which leads back to the
    admin page after logging in; nothing changes."""
    paths = every_form(live)
    before = snapshot(live)
    with httpx.Client(base_url=live.url) as browser:
        for response in [browser.get("/desk/admin")] + [
            browser.post(path, data=FORM_FIELDS) for path in paths
        ]:
            assert response.status_code == 303
            assert response.headers["location"] == "/login?next=%2Fdesk%2Fadmin"
        assert snapshot(live) == before
        logged_in = log_in(browser, *ADMIN, next_path="/desk/admin")
        assert logged_in.headers["location"] == "/desk/admin"


def test_a_missing_or_forged_csrf_token_is_refused_and_changes_nothing(
    admin: httpx.Client, live: LiveServer
) -> None:
    """Every form posted by the admin's browser without the CSRF token, or with a forged one,
    is 403 and changes nothing."""
    paths = every_form(live)
    token = csrf_in(admin.get("/desk/admin").text)
    before = snapshot(live)
    for path in paths:
        for form in ({}, {"csrf": "forged" + token[6:]}):
            refused = admin.post(path, data={**form, **FORM_FIELDS})
            assert refused.status_code == 403, path
            assert "CSRF token" in refused.text
    assert snapshot(live) == before


# --- the audit log ------------------------------------------------------------------------------


def test_every_change_on_the_page_leaves_an_audit_row(
    admin: httpx.Client, live: LiveServer, tokens: Tokens
) -> None:
    """Creating a user, disabling, enabling, a password reset, and making and revoking a token
    each leave one row naming the admin and whose account (never a password or token); the
    same commands from the command line read as "system"."""
    start = snapshot(live)["audit rows"]
    submit(admin, "/desk/admin/users", name="nina", role="editor", password="first password")
    submit(admin, "/desk/admin/users/nina/disable")
    submit(admin, "/desk/admin/users/nina/disable")  # already disabled: no change, no row
    submit(admin, "/desk/admin/users/nina/enable")
    submit(admin, "/desk/admin/users/nina/password", password="second password")
    token = shown_token(submit(admin, "/desk/admin/users/nina/tokens"))
    (token_id,) = token_ids(admin, "nina")
    submit(admin, f"/desk/admin/users/nina/tokens/{token_id}/revoke")
    live.svc.set_disabled("nina", True)

    answer = admin.get("/api/audit", headers=auth(tokens.editor))
    assert answer.status_code == 200
    rows = answer.json()["records"][: snapshot(live)["audit rows"] - start]
    seen = [(r["actor"], r["action"], r["detail"]) for r in reversed(rows)]
    assert seen == [
        ("ada", "user.create", {"user": "nina", "role": "editor"}),
        ("ada", "user.disable", {"user": "nina"}),
        ("ada", "user.enable", {"user": "nina"}),
        ("ada", "user.password", {"user": "nina"}),
        ("ada", "token.create", {"user": "nina"}),
        ("ada", "token.revoke", {"user": "nina", "token": int(token_id)}),
        ("system", "user.disable", {"user": "nina"}),
    ]
    assert {r["user_id"] for r in rows if r["actor"] == "ada"} == {
        live.svc.user_for_token(tokens.admin).id
    }
    for secret in ("first password", "second password", token):
        assert secret not in answer.text


def test_the_team_and_token_queries_on_both_backends(any_store: SqlStore) -> None:
    """The team lists users by name with their creation time and active tokens oldest first;
    a token is revoked by its number only for its own user, once, with its audit row."""
    svc = accounts = Liveblog(any_store, NullHub())
    admin = svc.create_user("zoe", Role.ADMIN, "admin-password")
    svc.create_user("ben", Role.EDITOR, "editor-password")
    first, second = svc.create_token("ben"), svc.create_token("ben")
    team = accounts.team(by=admin)
    assert [(m.user.name, len(m.tokens)) for m in team] == [("ben", 2), ("zoe", 0)]
    assert team[0].created_at.utcoffset() is not None
    older, newer = team[0].tokens
    assert older.id < newer.id and older.created_at <= newer.created_at
    with pytest.raises(NotFound):
        accounts.revoke_token_id("zoe", older.id, by=admin)
    accounts.revoke_token_id("ben", older.id, by=admin)
    with pytest.raises(NotFound):
        accounts.revoke_token_id("ben", older.id, by=admin)
    assert [t.id for t in accounts.team()[0].tokens] == [newer.id]
    assert svc.user_for_token(second).name == "ben"
    with pytest.raises(NotAuthenticated):
        svc.user_for_token(first)
    (row,) = svc.audit_log(limit=1).records
    assert (row.actor, row.action) == ("zoe", "token.revoke")
