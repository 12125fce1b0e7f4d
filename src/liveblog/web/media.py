"""Pictures over HTTP: the upload (multipart, streamed to a temporary file), the desk's picture
library, the renditions the app serves itself at /media/{key}, and an entry's withdrawn list."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response

from liveblog.domain.errors import Gone, InvalidInput, NotFound
from liveblog.domain.media import Media, MediaFile, Withdrawal
from liveblog.domain.models import User
from liveblog.media.blobs import KEY_PATTERN
from liveblog.render.jsonview import iso, renditions_json
from liveblog.web.auth import current_user, optional_user
from liveblog.web.errors import error_response
from liveblog.web.state import service
from liveblog.web.statuses import status_of

router = APIRouter()
Editor = Annotated[User, Depends(current_user)]

UPLOAD_PATH = "/api/blogs/{slug}/media"
_TEXT_FIELDS = ("alt", "caption", "credit")
_MAX_TEXT_PART = 16 * 1024
_COPY_CHUNK = 1024 * 1024
# Renditions are content-addressed: a name always means the same bytes, so a public one may be
# cached for a year; one still private must not be kept by anything shared.
PUBLIC_CACHE = "public, max-age=31536000, immutable"
PRIVATE_CACHE = "private, no-store"

_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "alt"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "JPEG, PNG, WebP, GIF (first frame), HEIC or AVIF",
                        },
                        "alt": {"type": "string", "description": "what the picture shows"},
                        "caption": {"type": "string"},
                        "credit": {"type": "string", "description": "e.g. AFP via Getty Images"},
                    },
                }
            }
        },
    }
}


def media_item_json(item: Media, files: list[MediaFile]) -> dict[str, Any]:
    return {
        "id": item.id,
        "alt": item.alt,
        "caption": item.caption,
        "credit": item.credit,
        "width": item.width,
        "height": item.height,
        "state": item.state.value,
        "created_at": iso(item.created_at),
        "renditions": renditions_json(files),
    }


@router.post(
    UPLOAD_PATH,
    status_code=201,
    summary="Upload a picture (multipart: file, alt, caption, credit)",
    openapi_extra=_UPLOAD_DOC,
    tags=["media"],
)
async def upload(slug: str, request: Request) -> JSONResponse:
    svc = service(request)
    user = await run_in_threadpool(current_user, request)
    # Starlette spools the file part to disk past 1 MiB; the body limit for this route
    # (web/limits.py) counts bytes as they arrive, so nothing holds the whole upload.
    async with request.form(
        max_files=1, max_fields=len(_TEXT_FIELDS), max_part_size=_MAX_TEXT_PART
    ) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput(
                "file", "is required: send the picture as the multipart field 'file'"
            )
        texts = {}
        for name in _TEXT_FIELDS:
            value = form.get(name, "")
            if not isinstance(value, str):
                raise InvalidInput(name, "must be text, not a file")
            texts[name] = value
        unknown = sorted(set(form.keys()) - {"file", *_TEXT_FIELDS})
        if unknown:
            raise InvalidInput(
                unknown[0], "is not a field of an upload (file, alt, caption, credit)"
            )
        item, files = await run_in_threadpool(_take, svc, user, slug, upload, texts)
    return JSONResponse(media_item_json(item, files), status_code=201)


def _take(svc: Any, user: User, slug: str, upload: UploadFile, texts: dict[str, str]) -> Any:
    # The intake reads a path: copy the spooled part to a named temporary file a chunk at a
    # time, and delete it whatever happens (the upload as received is never kept).
    with tempfile.NamedTemporaryFile(prefix="liveblog-upload-", suffix=".bin") as temp:
        upload.file.seek(0)
        shutil.copyfileobj(upload.file, temp, _COPY_CHUNK)
        temp.flush()
        return svc.upload_media(user, slug, Path(temp.name), **texts)


@router.get(UPLOAD_PATH, summary="The blog's pictures that can still be used", tags=["media"])
def library(slug: str, request: Request, user: Editor) -> JSONResponse:
    found = service(request).recent_media(user, slug)
    body = {"media": [media_item_json(item, files) for item, files in found]}
    return JSONResponse(body, headers={"Cache-Control": PRIVATE_CACHE})


def _withdrawn_json(found: list[Withdrawal]) -> JSONResponse:
    body = {
        "withdrawn": [
            {"media_id": w.media_id, "entry_id": w.entry_id, "urls": list(w.urls), "at": iso(w.at)}
            for w in found
        ]
    }
    return JSONResponse(body, headers={"Cache-Control": PRIVATE_CACHE})


@router.get(
    "/api/blogs/{slug}/entries/{entry_id}/withdrawn",
    summary="Pictures this entry's edits and retraction took down, with their URLs",
    tags=["media"],
)
def entry_withdrawn(slug: str, entry_id: int, request: Request, user: Editor) -> JSONResponse:
    if not 0 < entry_id < 2**63:
        raise NotFound(f"no entry {entry_id} in this blog")
    return _withdrawn_json(service(request).withdrawn(user, slug, entry_id))


@router.get(
    "/api/blogs/{slug}/withdrawn",
    summary="Every picture of this blog taken down (covers included), with their URLs",
    tags=["media"],
)
def blog_withdrawn(slug: str, request: Request, user: Editor) -> JSONResponse:
    return _withdrawn_json(service(request).withdrawn(user, slug))


@router.api_route("/media/{key}", methods=["GET", "HEAD"], include_in_schema=False)
def rendition(
    key: str, request: Request, viewer: Annotated[User | None, Depends(optional_user)]
) -> Response:
    try:
        if not KEY_PATTERN.fullmatch(key):
            raise NotFound("no such picture")
        served = service(request).media_file(key, viewer)
    except (NotFound, Gone) as exc:
        # Names are content addresses: the same URL comes back if the picture is uploaded
        # again, so no cache may keep this answer.
        response = error_response(request, status_of(exc), exc.message)
        response.headers["Cache-Control"] = "no-store"
        return response
    headers = {"Cache-Control": PUBLIC_CACHE if served.public else PRIVATE_CACHE}
    if served.public:
        headers["ETag"] = f'"{key.split(".", 1)[0][:32]}"'
    return Response(served.data, media_type=served.media_type, headers=headers)
