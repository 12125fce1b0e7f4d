"""The admin page, `/desk/admin`: the team's accounts and API tokens, for admins only.

Plain HTML forms, no script: each carries the session's CSRF token and, done, redirects back
(303) with a one-line notice; bad input shows the page again with the values kept and a message
(4xx). Creating an API token is the exception: its answer is the one page that ever shows the
token. The work is done by the service with `by` set, which check the role again
and write each change's audit row in its own transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from liveblog.domain.errors import InvalidInput, LiveblogError, NotFound
from liveblog.domain.models import Role, User
from liveblog.domain.rules import MIN_PASSWORD, Action, may
from liveblog.usecases.sessions import SignedIn
from liveblog.web.errors import error_response
from liveblog.web.login import NOT_STORED, login_first
from liveblog.web.sessions import (
    CSRF_FORM_MESSAGE,
    csrf_ok,
    read_form,
    signed_in,
)
from liveblog.web.state import service, signer
from liveblog.web.statuses import status_of
from liveblog.web.templating import render

router = APIRouter(include_in_schema=False)

ADMIN = "/desk/admin"
ADMINS_ONLY = "only admins can manage the team's accounts and API tokens"
MAX_TOKEN_ID = 2**31 - 1
ROLES = frozenset(role.value for role in Role)
NOTICES = {
    "created": "{name} can now log in.",
    "disabled": "{name} is disabled: logged out everywhere, logins and API tokens refused.",
    "enabled": "{name} is enabled again.",
    "password": "{name} has a new password; their sessions have ended.",
    "revoked": "An API token of {name} is revoked; it stopped working at once.",
}


Change = Callable[[User, dict[str, str]], Response]
"""One admin action: made as `by` with the form's fields, it answers with where to go next."""


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a form was refused, and which form: `section` is `create` or the user's name;
    `values` are the fields shown again."""

    section: str
    form: str
    error: LiveblogError
    values: dict[str, str] = field(default_factory=dict)


@router.get(ADMIN, response_class=HTMLResponse)
def admin_page(request: Request) -> Response:
    found = _admin(request)
    if isinstance(found, Response):
        return found
    done = (request.query_params.get("done", ""), request.query_params.get("user", ""))
    return _page(request, found, done=done)


@router.post(ADMIN + "/users")
async def create_user(request: Request) -> Response:
    def create(by: User, form: dict[str, str]) -> Response:
        name, role = form.get("name", "").strip(), form.get("role", "")
        if role not in ROLES:
            raise InvalidInput("role", "choose admin, editor or contributor")
        service(request).create_user(name, Role(role), form.get("password", ""), by=by)
        return _back("created", name)

    return await _post(request, "create", "create", create, keep=("name", "role"))


@router.post(ADMIN + "/users/{name}/disable")
async def disable_user(request: Request, name: str) -> Response:
    return await _set_disabled(request, name, disabled=True)


@router.post(ADMIN + "/users/{name}/enable")
async def enable_user(request: Request, name: str) -> Response:
    return await _set_disabled(request, name, disabled=False)


async def _set_disabled(request: Request, name: str, *, disabled: bool) -> Response:
    def change(by: User, _: dict[str, str]) -> Response:
        service(request).set_disabled(name, disabled, by=by)
        return _back("disabled" if disabled else "enabled", name)

    return await _post(request, name, "state", change)


@router.post(ADMIN + "/users/{name}/password")
async def reset_password(request: Request, name: str) -> Response:
    def reset(by: User, form: dict[str, str]) -> Response:
        service(request).set_password(name, form.get("password", ""), by=by)
        return _back("password", name)

    return await _post(request, name, "password", reset)


@router.post(ADMIN + "/users/{name}/tokens")
async def create_token(request: Request, name: str) -> Response:
    def create(by: User, _: dict[str, str]) -> Response:
        token = service(request).create_token(name, by=by)
        # The only time the token is shown: the store keeps its hash alone.
        html = render("admin_token.html", user=by, owner=name, token=token)
        return HTMLResponse(html, headers=NOT_STORED)

    return await _post(request, name, "token", create)


@router.post(ADMIN + "/users/{name}/tokens/{token_id}/revoke")
async def revoke_token(request: Request, name: str, token_id: str) -> Response:
    def revoke(by: User, _: dict[str, str]) -> Response:
        # Read here, after the checks: a bad id from a non-admin is a 403 like any other post.
        number = int(token_id) if token_id.isdecimal() and len(token_id) < 11 else 0
        if not 0 < number <= MAX_TOKEN_ID:
            raise NotFound(f"{name} has no active API token #{token_id}")
        service(request).revoke_token_id(name, number, by=by)
        return _back("revoked", name)

    return await _post(request, name, "revoke", revoke)


# --- the checks every request passes, and the answers ---------------------------------------


def _admin(request: Request) -> SignedIn | Response:
    """The signed-in admin; else a redirect to the login page, or 403 for anyone else."""
    found = signed_in(request)
    if found is None:
        return login_first(request, ADMIN)
    if not may(found.user, Action.MANAGE_USERS):
        return error_response(request, 403, ADMINS_ONLY)
    return found


async def _post(
    request: Request, section: str, form_name: str, change: Change, keep: tuple[str, ...] = ()
) -> Response:
    """A form post: only from an admin, only with the session's CSRF token. The change runs
    off the event loop (argon2, the database); a refusal shows the page again with the message
    by the form (`section`: `create` or the user's name) and the fields named in `keep`."""
    form = await read_form(request)
    found = await run_in_threadpool(_admin, request)
    if isinstance(found, Response):
        return found
    if not csrf_ok(request, found, form):
        return error_response(request, 403, CSRF_FORM_MESSAGE)
    try:
        return await run_in_threadpool(change, found.user, form)
    except LiveblogError as exc:
        problem = Problem(section, form_name, exc, {k: form.get(k, "").strip() for k in keep})
        return await run_in_threadpool(_page, request, found, status_of(exc), problem=problem)


def _back(done: str, name: str) -> Response:
    """Back to the page (303), which then says what was done to whom."""
    query = urlencode({"done": done, "user": name})
    return RedirectResponse(f"{ADMIN}?{query}", status_code=303, headers=NOT_STORED)


def _page(
    request: Request,
    found: SignedIn,
    status: int = 200,
    *,
    done: tuple[str, str] = ("", ""),
    problem: Problem | None = None,
) -> HTMLResponse:
    """The page; `done` is the (action, user name) of the notice to show, if any."""
    members = service(request).team(by=found.user)
    notice, (action, name) = None, done
    # Only the name of a user on the page: a link cannot make the page say what it likes.
    if action in NOTICES and name in {m.user.name for m in members}:
        notice = NOTICES[action].format(name=name)
    html = render(
        "admin.html",
        user=found.user,
        csrf=signer(request).csrf_token(found),
        members=members,
        roles=[role.value for role in Role],
        min_password=MIN_PASSWORD,
        notice=notice,
        problem=problem,
    )
    return HTMLResponse(html, status_code=status, headers=NOT_STORED)
