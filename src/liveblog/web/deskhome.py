"""The desk's home page: who is logged in, the newsroom's blogs, and the form that starts one.

A plain HTML form that works without JavaScript; static/desk_home.js only suggests the slug from
the title. A refused form comes back with what the user typed and the field at fault named.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from liveblog.domain.errors import AlreadyExists, InvalidInput
from liveblog.domain.models import Blog, Role
from liveblog.domain.rules import Action, may
from liveblog.domain.site import blog_path
from liveblog.usecases.sessions import SignedIn
from liveblog.web.errors import error_response
from liveblog.web.login import DESK, NOT_STORED, login_first
from liveblog.web.sessions import CSRF_FORM_MESSAGE, csrf_ok, read_form, signed_in
from liveblog.web.state import service, signer
from liveblog.web.statuses import status_of
from liveblog.web.templating import render

router = APIRouter(include_in_schema=False)

MAX_LISTED = 200
NEW_BLOG = {"title": "", "slug": "", "description": "", "language": "en", "timezone": "UTC"}
"""The form's fields and what a fresh form holds (UTC: the server's own zone)."""
LABELS = {"title": "Title", "slug": "Slug", "language": "Language", "timezone": "Time zone"}
COMMON_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Warsaw",
    "Europe/Kyiv",
    "Europe/Istanbul",
    "Europe/Moscow",
    "Africa/Lagos",
    "Africa/Cairo",
    "Africa/Johannesburg",
    "Africa/Nairobi",
    "Asia/Jerusalem",
    "Asia/Dubai",
    "Asia/Tehran",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Jakarta",
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Singapore",
    "Asia/Seoul",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "America/Bogota",
    "America/Mexico_City",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
)


@dataclass(frozen=True, slots=True)
class Problem:
    """Why the new-blog form was refused: the field at fault and a message naming it."""

    field: str
    message: str


@router.get("/desk", response_class=HTMLResponse)
def desk(request: Request) -> Response:
    found = signed_in(request)
    if found is None:
        return login_first(request)
    return _home(request, found)


@router.post("/desk/blogs")
async def create_blog(request: Request) -> Response:
    form = await read_form(request)
    return await run_in_threadpool(_create_blog, request, form)


def _create_blog(request: Request, form: dict[str, str]) -> Response:
    found = signed_in(request)
    if found is None:
        return login_first(request, DESK)
    if not csrf_ok(request, found, form):
        return error_response(request, 403, CSRF_FORM_MESSAGE)
    values = {name: form.get(name, default).strip() for name, default in NEW_BLOG.items()}
    try:
        # A contributor's Forbidden goes to the error page: they were never shown the form.
        blog = service(request).create_blog(
            found.user,
            title=values["title"],
            slug=values["slug"],
            description=values["description"],
            language=values["language"],
            timezone=values["timezone"],
        )
    except InvalidInput as exc:
        return _home(request, found, status_of(exc), values, _problem(exc.field, exc.message))
    except AlreadyExists as exc:  # the slug is the only unique field of a blog
        return _home(request, found, status_of(exc), values, _problem("slug", exc.message))
    return RedirectResponse(f"/desk{blog_path(blog.slug)}", status_code=303, headers=NOT_STORED)


def _problem(field: str, message: str) -> Problem:
    label = LABELS.get(field, field.capitalize())
    reason = message.removeprefix(f"{field}: ")
    return Problem(field, f"{label}: {reason}.")


def _home(
    request: Request,
    found: SignedIn,
    status: int = 200,
    values: dict[str, str] | None = None,
    problem: Problem | None = None,
) -> HTMLResponse:
    user = found.user
    html = render(
        "desk.html",
        user=user,
        csrf=signer(request).csrf_token(found),
        is_admin=user.role is Role.ADMIN,
        may_create=may(user, Action.CREATE_BLOG),
        blogs=newest_first(service(request).blogs(MAX_LISTED)),
        form=values or NEW_BLOG,
        problem=problem,
        zones=COMMON_ZONES,
    )
    return HTMLResponse(html, status_code=status, headers=NOT_STORED)


def newest_first(blogs: list[Blog]) -> list[Blog]:
    # The service lists live blogs first; the desk wants the one just started on top.
    return sorted(blogs, key=lambda blog: (blog.created_at, blog.id), reverse=True)
