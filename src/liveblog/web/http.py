"""Small HTTP helpers shared by the API and reader views: validators and cache headers."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from liveblog.web.caching import public_headers


def seq_etag(blog_id: int, seq: int, variant: str = "") -> str:
    """Everything public about a blog changes only with its seq, so seq is the validator."""
    return f'W/"b{blog_id}s{seq}{variant}"'


def not_modified(request: Request, etag: str) -> Response | None:
    """A 304 when If-None-Match names this validator (weak comparison, RFC 9110 13.1.2)."""
    if etag_matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=public_headers(etag))
    return None


def etag_matches(if_none_match: str, etag: str) -> bool:
    candidates = [t.strip() for t in if_none_match.split(",")]
    return "*" in candidates or _opaque(etag) in {_opaque(t) for t in candidates}


def _opaque(tag: str) -> str:
    return tag.removeprefix("W/")
