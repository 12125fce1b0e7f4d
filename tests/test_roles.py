"""Who may do what through the API: tokens or the desk's session, roles, and the answer each
role gets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from liveblog.domain.models import Role

from conftest import LiveServer, Tokens, auth
from test_login import csrf_in, log_in

SLUG = "election-night"
ENTRIES = f"/api/blogs/{SLUG}/entries"


Request = tuple[str, str, dict[str, Any] | None]


def _published(http: httpx.Client, tokens: Tokens, slug: str = SLUG) -> int:
    r = http.post(
        f"/api/blogs/{slug}/entries", json={"body": "Published by an editor"},
        headers=auth(tokens.editor),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    entry_id: int = r.json()["id"]
    return entry_id


def _reopen(http: httpx.Client, tokens: Tokens, slug: str) -> Request:
    r = http.patch(f"/api/blogs/{slug}", json={"status": "ended"}, headers=auth(tokens.editor))
    assert r.status_code == 200, r.text
    return ("PATCH", f"/api/blogs/{slug}", {"status": "live"})


# Each action prepares what it needs with editor rights in blog `s`, then returns the request
# (method, url, json) to try with the role's credentials.
Action = Callable[[httpx.Client, Tokens, str], Request]
ACTIONS: dict[str, Action] = {
    "create blog": lambda h, t, s: ("POST", "/api/blogs", {"slug": f"{s}-new", "title": "T"}),
    "publish": lambda h, t, s: ("POST", f"/api/blogs/{s}/entries", {"body": "news"}),
    "draft": lambda h, t, s: (
        "POST", f"/api/blogs/{s}/entries", {"body": "draft", "status": "draft"},
    ),
    "submit": lambda h, t, s: (
        "POST", f"/api/blogs/{s}/entries", {"body": "for review", "status": "submitted"},
    ),
    "edit published": lambda h, t, s: (
        "PATCH", f"/api/blogs/{s}/entries/{_published(h, t, s)}", {"body": "edited", "version": 1},
    ),
    "pin": lambda h, t, s: (
        "PATCH", f"/api/blogs/{s}/entries/{_published(h, t, s)}", {"pinned": True, "version": 1},
    ),
    "key_event": lambda h, t, s: (
        "PATCH", f"/api/blogs/{s}/entries/{_published(h, t, s)}",
        {"key_event": True, "version": 1},
    ),
    "pinned draft": lambda h, t, s: (
        "POST", f"/api/blogs/{s}/entries", {"body": "d", "status": "draft", "pinned": True},
    ),
    "retract": lambda h, t, s: ("DELETE", f"/api/blogs/{s}/entries/{_published(h, t, s)}", None),
    "end": lambda h, t, s: ("PATCH", f"/api/blogs/{s}", {"status": "ended"}),
    "reopen": _reopen,
    "edit blog": lambda h, t, s: ("PATCH", f"/api/blogs/{s}", {"key_points": ["New"]}),
    "read revisions": lambda h, t, s: (
        "GET", f"/api/blogs/{s}/entries/{_published(h, t, s)}/revisions", None,
    ),
}  # fmt: skip

SUCCESS = {
    "create blog": 201, "publish": 201, "draft": 201, "submit": 201, "edit published": 200,
    "pin": 200, "key_event": 200, "pinned draft": 201, "retract": 204, "end": 200,
    "reopen": 200, "edit blog": 200, "read revisions": 200,
}  # fmt: skip
CONTRIBUTOR_MAY = {"draft", "submit"}


def expected(role: str, action: str) -> int:
    if role in ("anonymous", "bad token"):
        return 401
    if role == "editor, desk, no CSRF":
        return SUCCESS[action] if action == "read revisions" else 403
    role = role.removesuffix(" via desk")
    if role == "contributor" and action not in CONTRIBUTOR_MAY:
        # Revisions of someone else's entry are simply not there for a contributor.
        return 404 if action == "read revisions" else 403
    return SUCCESS[action]


# The desk signs in with a session cookie and sends the page's CSRF token: the same rules hold.
DESK_ROLES = ["admin via desk", "editor via desk", "contributor via desk", "editor, desk, no CSRF"]
ROLES = ["admin", "editor", "contributor", "anonymous", "bad token", *DESK_ROLES]
MATRIX = [(role, action) for role in ROLES for action in ACTIONS]


def _headers(role: str, tokens: Tokens) -> dict[str, str]:
    if role == "anonymous":
        return {}
    if role == "bad token":
        return auth("lb_not-a-real-token")
    return auth(getattr(tokens, role))


PASSWORD = "matrix-password"
DESKS: dict[str, tuple[httpx.Client, dict[str, str]]] = {}
"""Signed-in desk clients by role, with the headers their requests carry."""


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, Tokens]]:
    """One server for the whole matrix (each case works in a blog of its own): fast and isolated."""
    data = tmp_path_factory.mktemp("roles")
    server = LiveServer(f"sqlite:///{data / 'liveblog.sqlite3'}", data).start()
    svc = server.svc
    names = {"admin": "ada", "editor": "eddie", "contributor": "cora"}
    for role, name in names.items():
        svc.create_user(name, Role(role), PASSWORD)
    tokens = Tokens(*(svc.create_token(name) for name in names.values()))
    for role, name in names.items():
        desk = httpx.Client(base_url=server.url, timeout=10)
        assert log_in(desk, name, PASSWORD).status_code == 303
        csrf = csrf_in(desk.get("/desk").text)
        DESKS[f"{role} via desk"] = (desk, {"X-CSRF-Token": csrf})
    DESKS["editor, desk, no CSRF"] = (DESKS["editor via desk"][0], {})
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client, tokens
    for desk, _ in DESKS.values():
        desk.close()
    DESKS.clear()
    server.stop()


@pytest.mark.parametrize(("role", "action"), MATRIX, ids=[f"{r}-{a}" for r, a in MATRIX])
def test_role_matrix(shared: tuple[httpx.Client, Tokens], role: str, action: str) -> None:
    """Each role gets the documented status for each action, and a refusal changes nothing."""
    http, tokens = shared
    slug = f"m-{MATRIX.index((role, action))}"
    made = http.post("/api/blogs", json={"slug": slug, "title": "M"}, headers=auth(tokens.editor))
    assert made.status_code == 201, made.text
    method, url, payload = ACTIONS[action](http, tokens, slug)
    seq_before = http.get(f"/api/blogs/{slug}").json()["seq"]
    if role in DESKS:
        client, headers = DESKS[role]
        r = client.request(method, url, json=payload, headers=headers)
    else:
        r = http.request(method, url, json=payload, headers=_headers(role, tokens))
    want = expected(role, action)
    assert r.status_code == want, r.text
    if want >= 400:
        assert r.json()["error"]
        assert http.get(f"/api/blogs/{slug}").json()["seq"] == seq_before
        assert http.get(f"/api/blogs/{slug}-new").status_code == 404
    if want == 401:
        assert r.headers["www-authenticate"].startswith("Bearer")
    if role == "editor, desk, no CSRF" and want == 403:
        assert "CSRF" in r.json()["error"]


def test_malformed_or_unknown_credentials_are_401(shared: tuple[httpx.Client, Tokens]) -> None:
    """Any Authorization header that does not carry a valid bearer token is 401 with a hint."""
    http, tokens = shared
    http.post("/api/blogs", json={"slug": "creds", "title": "C"}, headers=auth(tokens.editor))
    headers = [
        "", "Bearer", "Basic dXNlcjpwYXNz", "Token abc", "bearer nope", "Bearer a b c",
        "Bearer " + "x" * 4000, f"Bearer {tokens.editor}x", f"Basic {tokens.editor}",
    ]  # fmt: skip
    for header in headers:
        r = http.post(
            "/api/blogs/creds/entries", json={"body": "x"}, headers={"Authorization": header}
        )
        assert r.status_code == 401, header[:30]
        assert r.json()["error"]
        assert r.headers["www-authenticate"] == 'Bearer realm="liveblog"'
    assert http.get("/api/blogs/creds").json()["seq"] == 0


def test_bearer_scheme_is_case_insensitive(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """'bearer TOKEN' works like 'Bearer TOKEN' (the scheme name is case-insensitive)."""
    r = http.post(ENTRIES, json={"body": "x"}, headers={"Authorization": f"bearer {tokens.editor}"})
    assert r.status_code == 201


def test_contributor_can_work_on_their_own_draft_but_not_publish_it(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """A contributor edits and submits their draft; publishing, pinning or a key event is 403."""
    c = auth(tokens.contributor)
    draft = http.post(ENTRIES, json={"body": "first take", "status": "draft"}, headers=c).json()
    url = f"{ENTRIES}/{draft['id']}"
    r = http.patch(url, json={"body": "second take", "version": 1}, headers=c)
    assert r.status_code == 200
    assert r.json()["version"] == 2
    for change in ({"status": "published"}, {"pinned": True}, {"key_event": True}):
        refused = http.patch(url, json={**change, "version": 2}, headers=c)
        assert refused.status_code == 403, change
    r = http.patch(url, json={"status": "submitted", "version": 2}, headers=c)
    assert r.status_code == 200
    history = http.get(f"{url}/revisions", headers=c)
    assert [v["body"] for v in history.json()["revisions"]] == ["first take", "second take"]
    assert http.get(ENTRIES).json()["entries"] == []
    assert http.get(f"/api/blogs/{SLUG}").json()["seq"] == 0


def test_contributor_cannot_touch_published_entries(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """A contributor gets 403 editing, pinning or retracting a published entry; nothing moves."""
    entry_id = _published(http, tokens)
    c = auth(tokens.contributor)
    url = f"{ENTRIES}/{entry_id}"
    assert http.patch(url, json={"body": "x", "version": 1}, headers=c).status_code == 403
    pin = http.patch(url, json={"pinned": True}, headers={**c, "If-Match": '"1"'})
    assert pin.status_code == 403
    assert http.delete(url, headers=c).status_code == 403
    entry = http.get(url).json()
    assert (entry["body"], entry["pinned"], entry["status"]) == (
        "Published by an editor", False, "published",
    )  # fmt: skip


def test_contributor_may_withdraw_their_own_draft(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Deleting one's own unpublished draft is allowed and leaves no trace in the public log."""
    c = auth(tokens.contributor)
    draft = http.post(ENTRIES, json={"body": "scrap", "status": "draft"}, headers=c).json()
    assert http.delete(f"{ENTRIES}/{draft['id']}", headers=c).status_code == 204
    assert http.get(f"{ENTRIES}/{draft['id']}", headers=c).status_code == 404
    assert http.get(f"/api/blogs/{SLUG}/events").json()["events"] == []


def test_a_contributor_cannot_edit_another_contributors_draft(
    live: LiveServer, http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Someone else's draft is not there for a contributor (404), but an editor can edit it."""
    live.svc.create_user("carl", Role.CONTRIBUTOR, None)
    carl = auth(live.svc.create_token("carl"))
    draft = http.post(
        ENTRIES, json={"body": "cora's", "status": "draft"}, headers=auth(tokens.contributor)
    ).json()
    url = f"{ENTRIES}/{draft['id']}"
    assert http.patch(url, json={"body": "carl's", "version": 1}, headers=carl).status_code == 404
    assert http.delete(url, headers=carl).status_code in (403, 404)
    edited = http.patch(url, json={"body": "tidied", "version": 1}, headers=auth(tokens.editor))
    assert edited.status_code == 200
    assert edited.json()["author"] == {"name": "cora"}


def test_reads_of_published_content_need_no_token(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Blog, entries, one entry and events are all readable without credentials."""
    entry_id = _published(http, tokens)
    urls = [f"/api/blogs/{SLUG}", ENTRIES, f"{ENTRIES}/{entry_id}", f"/api/blogs/{SLUG}/events"]
    for url in urls:
        assert http.get(url).status_code == 200, url
