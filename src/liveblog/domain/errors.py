"""The exceptions the use cases raise. They say what went wrong, not how to answer it: the web
edge maps each type to one HTTP status (web/errors.py), the CLI to an exit code."""

from __future__ import annotations

from typing import Any


class LiveblogError(Exception):
    """Base of every error a caller can cause; carries a message fit to show a user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(LiveblogError):
    """A field's value breaks a rule; `field` names it so a form can point at it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class TooLarge(LiveblogError):
    """A body or upload is over its limit; `field` names the field when one field is the cause."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnsupportedMedia(InvalidInput):
    """An upload is not a picture we accept (judged by its content, not its name or declared
    type): SVG, HTML, a document, an unknown format."""


class NotAuthenticated(LiveblogError):
    """No credentials, or credentials that match no active user or token."""


class Forbidden(LiveblogError):
    """The user is known but their role does not allow the action."""


class TooManyAttempts(LiveblogError):
    """Logins are refused for a while after repeated failures; `retry_after` says how long (s)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(LiveblogError):
    """No such blog or entry (or one the caller may not see)."""


class Gone(LiveblogError):
    """The entry was retracted and its editor left a public note."""

    def __init__(self, message: str, public_note: str) -> None:
        super().__init__(message)
        self.public_note = public_note


class AlreadyExists(LiveblogError):
    """A unique name (blog slug, user name) is taken."""


class VersionConflict(LiveblogError):
    """An edit was based on a version that is no longer current.

    `precondition` is True when the stale version came from an If-Match header, False when it
    came from the request body (the web answers the two differently). `current` is the entry
    as it is now, so the editor can compare and choose rather than overwrite a colleague.
    """

    def __init__(self, message: str, current: dict[str, Any], precondition: bool) -> None:
        super().__init__(message)
        self.current = current
        self.precondition = precondition


class VersionRequired(LiveblogError):
    """An edit came without saying which version it was based on."""


class InvalidState(LiveblogError):
    """The action does not fit the thing's current state (e.g. publishing into an ended blog)."""


class Unstorable(LiveblogError):
    """A value the database cannot hold or look up reached it: a NUL character (PostgreSQL), a
    number past 64 bits. The request is at fault, not the server; raised by the store."""
