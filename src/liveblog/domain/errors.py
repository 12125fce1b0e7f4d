"""The exceptions the service raises. The web edge maps each to one HTTP status."""

from __future__ import annotations

from typing import Any


class LiveblogError(Exception):
    """Base of every error a caller can cause; carries a message fit to show a user."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(LiveblogError):
    """A field's value breaks a rule; `field` names it so a form can point at it."""

    status = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class TooLarge(LiveblogError):
    """A body or upload is over its limit; `field` names the field when one field is the cause."""

    status = 413

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotAuthenticated(LiveblogError):
    """No credentials, or credentials that match no active user or token."""

    status = 401


class Forbidden(LiveblogError):
    """The user is known but their role does not allow the action."""

    status = 403


class TooManyAttempts(LiveblogError):
    """Logins are refused for a while after repeated failures; `retry_after` says how long (s)."""

    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(LiveblogError):
    """No such blog or entry (or one the caller may not see)."""

    status = 404


class Gone(LiveblogError):
    """The entry was retracted and its editor left a public note."""

    status = 410

    def __init__(self, message: str, public_note: str) -> None:
        super().__init__(message)
        self.public_note = public_note


class AlreadyExists(LiveblogError):
    """A unique name (blog slug, user name) is taken."""

    status = 409


class VersionConflict(LiveblogError):
    """An edit was based on a version that is no longer current.

    `precondition` is True when the stale version came from an If-Match header (HTTP 412),
    False when it came from the request body (HTTP 409). `current` is the entry as it is now,
    so the editor can compare and choose rather than overwrite a colleague.
    """

    def __init__(self, message: str, current: dict[str, Any], precondition: bool) -> None:
        super().__init__(message)
        self.current = current
        self.precondition = precondition
        self.status = 412 if precondition else 409


class VersionRequired(LiveblogError):
    """An edit came without saying which version it was based on."""

    status = 428


class InvalidState(LiveblogError):
    """The action does not fit the thing's current state (e.g. publishing into an ended blog)."""

    status = 409
