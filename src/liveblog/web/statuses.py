"""The one table from what went wrong (a domain error) to how HTTP says it: used by every
response path — JSON and HTML errors, the desk's forms, and both stream writers."""

from __future__ import annotations

from liveblog.domain.errors import (
    AlreadyExists,
    Forbidden,
    Gone,
    InvalidInput,
    InvalidState,
    LiveblogError,
    NotAuthenticated,
    NotFound,
    TooLarge,
    TooManyAttempts,
    Unstorable,
    UnsupportedMedia,
    VersionConflict,
    VersionRequired,
)

# Looked up along the error's class hierarchy, so a subclass may get a status of its own.
STATUS: dict[type[LiveblogError], int] = {
    InvalidInput: 422,
    UnsupportedMedia: 415,
    Unstorable: 422,
    TooLarge: 413,
    NotAuthenticated: 401,
    Forbidden: 403,
    TooManyAttempts: 429,
    NotFound: 404,
    Gone: 410,
    AlreadyExists: 409,
    InvalidState: 409,
    VersionRequired: 428,
}


def status_of(exc: LiveblogError) -> int:
    """The HTTP status for a domain error. A stale version named in If-Match failed a
    precondition (412); one sent in the body conflicts with the stored entry (409)."""
    if isinstance(exc, VersionConflict):
        return 412 if exc.precondition else 409
    for kind in type(exc).__mro__:
        status = STATUS.get(kind)
        if status is not None:
            return status
    return 400
