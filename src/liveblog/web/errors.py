"""Every failure becomes a clear 4xx: JSON under /api, an HTML page elsewhere. Never a trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, JSONResponse, Response

from liveblog.domain.errors import Gone, LiveblogError, TooManyAttempts, VersionConflict
from liveblog.media.blobs import BlobStoreError
from liveblog.web.headers import response_headers
from liveblog.web.statuses import status_of
from liveblog.web.templating import render

log = logging.getLogger(__name__)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "application/json" in request.headers.get(
        "accept", ""
    )


def error_response(request: Request, status: int, message: str, **extra: Any) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": message, "status": status, **extra}, status_code=status)
    html = render("error.html", status=status, message=message, note=extra.get("public_note"))
    return HTMLResponse(html, status_code=status)


async def on_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LiveblogError)
    extra: dict[str, Any] = {}
    field = getattr(exc, "field", None)
    if field is not None:
        extra["field"] = field
    if isinstance(exc, Gone):
        extra["public_note"] = exc.public_note
    if isinstance(exc, VersionConflict):
        extra["current"] = exc.current
    status = status_of(exc)
    response = error_response(request, status, exc.message, **extra)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="liveblog"'
    if isinstance(exc, TooManyAttempts):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [_problem(err) for err in exc.errors()]
    first = problems[0] if problems else {"field": "body", "message": "invalid request"}
    return error_response(
        request, 422, f"{first['field']}: {first['message']}", field=first["field"], errors=problems
    )


def _problem(err: dict[str, Any]) -> dict[str, str]:
    """One validation failure as {field, message}, worded for the person who sent the request."""
    kind = err.get("type")
    if kind == "json_invalid":
        # FastAPI puts the character offset where a field name would go.
        where = [p for p in err.get("loc", ()) if isinstance(p, int)]
        at = f" (at character {where[0]})" if where else ""
        reason = (err.get("ctx") or {}).get("error", "")
        detail = f": {reason}" if reason else ""
        return {"field": "body", "message": f"is not valid JSON{detail}{at}"}
    loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(loc) or "body"
    message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    if kind == "model_attributes_type" and field == "body":
        message = "must be a JSON object sent with 'Content-Type: application/json'"
    elif kind == "missing" and field == "body":
        message = "a JSON object is required"
    return {"field": field, "message": message}


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: "not found", 405: "method not allowed"}
    message = exc.detail if isinstance(exc.detail, str) else messages.get(exc.status_code, "error")
    if exc.status_code == 404 and message == "Not Found":
        message = "not found"
    response = error_response(request, exc.status_code, message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def on_store_unreachable(request: Request, exc: Exception) -> Response:
    """The picture store failed (a full disk, an object store away): the operator's problem,
    told to the caller as a temporary one and logged with the store's own words."""
    log.error("picture store failed on %s %s: %s", request.method, request.url.path, exc)
    response = error_response(
        request, 503, "the picture store is not available right now; try again shortly"
    )
    response.headers["Retry-After"] = "10"
    return response


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    response = error_response(request, 500, "internal error; it has been logged")
    # Starlette answers this one outside every middleware: the common headers are added here.
    # The server closes the connection once the error has been re-raised to it: say so.
    response.raw_headers = response_headers([*response.raw_headers, (b"connection", b"close")])
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(LiveblogError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(BlobStoreError, on_store_unreachable)
    app.add_exception_handler(Exception, on_unexpected)
