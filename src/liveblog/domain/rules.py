"""Validation limits and who may do what. Each check raises a domain error with a clear message."""

from __future__ import annotations

import enum
import re
import unicodedata
import zoneinfo

from liveblog.domain.errors import Forbidden, InvalidInput, TooLarge
from liveblog.domain.models import Role, User

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")

MAX_TITLE = 200
MAX_DESCRIPTION = 2_000
MAX_KEY_POINTS = 10
MAX_KEY_POINT = 300
MAX_HEADLINE = 300
MAX_BODY_BYTES = 100_000
MAX_NESTING = 20
MAX_NOTE = 1_000
MAX_MEDIA_PER_ENTRY = 20
MAX_ALT = 1_000
MAX_CAPTION = 1_000
MAX_CREDIT = 300
MIN_PASSWORD = 8


class Action(enum.StrEnum):
    """Things a user can try; each maps to the roles allowed to do it."""

    MANAGE_USERS = "manage users"
    CREATE_BLOG = "create blogs"
    EDIT_BLOG = "edit blogs"
    END_BLOG = "end or reopen blogs"
    WRITE_DRAFT = "write drafts and submissions"
    PUBLISH = "publish entries"
    EDIT_PUBLISHED = "edit published entries"
    PIN = "pin entries or mark key events"
    RETRACT = "retract entries"
    VIEW_AUDIT = "view the audit log"
    UPLOAD_MEDIA = "upload pictures"
    BACKDATE = "publish an entry with its original time"
    MANAGE_WEBHOOKS = "manage a blog's webhooks"


_ALLOWED: dict[Action, frozenset[Role]] = {
    Action.MANAGE_USERS: frozenset({Role.ADMIN}),
    Action.WRITE_DRAFT: frozenset({Role.ADMIN, Role.EDITOR, Role.CONTRIBUTOR}),
    Action.UPLOAD_MEDIA: frozenset({Role.ADMIN, Role.EDITOR, Role.CONTRIBUTOR}),
}
_EDITORS = frozenset({Role.ADMIN, Role.EDITOR})


def require(user: User, action: Action) -> None:
    """Raise Forbidden unless the user's role allows the action."""
    allowed = _ALLOWED.get(action, _EDITORS)
    if user.disabled or user.role not in allowed:
        raise Forbidden(f"a {user.role.value} may not {action.value}")


def may(user: User, action: Action) -> bool:
    return not user.disabled and user.role in _ALLOWED.get(action, _EDITORS)


def clean_text(field: str, value: str, *, limit: int, required: bool = False) -> str:
    """Trim a one-line text field and enforce its length; control characters are refused."""
    value = value.strip()
    if required and not value:
        raise InvalidInput(field, "must not be empty")
    if len(value) > limit:
        raise InvalidInput(field, f"must be at most {limit} characters (got {len(value)})")
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise InvalidInput(field, "must not contain control characters")
    return value


MAX_SLUG = 80


def normal_slug(slug: str) -> str:
    """The one spelling a slug is stored and looked up in (NFC: é is one character, whether
    it was typed or pasted as e and a combining accent)."""
    return unicodedata.normalize("NFC", slug)


def valid_slug(slug: str) -> bool:
    """Lower-case letters of any script (with their combining marks), digits and hyphens; not
    starting or ending with a hyphen; at most 80 characters."""
    if not 1 <= len(slug) <= MAX_SLUG or slug[0] == "-" or slug[-1] == "-":
        return False
    for n, ch in enumerate(slug):
        kind = unicodedata.category(ch)
        if ch == "-" or kind == "Nd":
            continue
        if kind[0] == "L" and ch == ch.lower() and kind != "Lt":
            continue
        if kind[0] == "M" and n > 0:
            continue
        return False
    return True


def check_slug(slug: str) -> str:
    slug = normal_slug(slug)
    if not valid_slug(slug):
        raise InvalidInput(
            "slug",
            "use 1-80 lower-case letters (any script), digits and hyphens, not starting or "
            "ending with '-'",
        )
    return slug


def check_username(name: str) -> str:
    if not USERNAME_RE.match(name):
        raise InvalidInput("name", "use 1-64 letters, digits, '.', '_' or '-'")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput("password", f"must be at least {MIN_PASSWORD} characters")
    return password


def check_key_points(points: list[str]) -> list[str]:
    if len(points) > MAX_KEY_POINTS:
        raise InvalidInput("key_points", f"at most {MAX_KEY_POINTS} key points")
    cleaned = [
        clean_text(f"key_points[{i}]", p, limit=MAX_KEY_POINT, required=True)
        for i, p in enumerate(points)
    ]
    return cleaned


def check_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: names like "America" (a directory) or very long ones reach the filesystem.
        raise InvalidInput("timezone", f"unknown IANA time zone {name!r}") from None
    return name


def check_language(tag: str) -> str:
    if not LANGUAGE_RE.match(tag):
        raise InvalidInput("language", "use a BCP 47 language tag such as 'en' or 'pt-BR'")
    return tag


def check_body_size(body: str) -> None:
    size = len(body.encode("utf-8"))
    if size > MAX_BODY_BYTES:
        raise TooLarge(
            f"body: must be at most {MAX_BODY_BYTES} bytes of Markdown (got {size})", field="body"
        )
