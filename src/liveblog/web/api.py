"""The JSON API under /api. Each handler parses, calls one service function, picks a response."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictInt,
    Tag,
)
from starlette.responses import JSONResponse, Response

from liveblog.domain.errors import InvalidInput, NotFound
from liveblog.domain.models import User
from liveblog.render.cursor import decode_cursor, encode_cursor
from liveblog.render.jsonview import blog_json, entry_json, event_json_text, iso, media_json
from liveblog.render.markdown import render_markdown
from liveblog.service import Liveblog, Version
from liveblog.usecases.entries import MAX_EVENTS, MAX_PAGE
from liveblog.usecases.media import PictureTexts
from liveblog.web.auth import current_user, optional_user, use_service
from liveblog.web.caching import public_headers
from liveblog.web.http import not_modified, seq_etag

router = APIRouter(prefix="/api")

Svc = Annotated[Liveblog, Depends(use_service)]
Editor = Annotated[User, Depends(current_user)]

# Ids and sequence numbers are stored as signed 64-bit integers; a larger number from a URL
# cannot name anything, and handing it to the database would fail inside the driver.
MAX_ID = 2**63 - 1
_VERSION_RE = re.compile(r'(?:W/)?(?:"([0-9]{1,18})"|([0-9]{1,18}))')
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _storable(value: str) -> str:
    # JSON may spell a lone surrogate ("\ud800") that no database can store as UTF-8 text, and
    # PostgreSQL refuses NUL in text: refuse both here with the field named, not deep in a driver.
    if _LONE_SURROGATE.search(value):
        raise ValueError("must be valid Unicode text (it contains a lone surrogate)")
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_storable)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Ids are strict integers: `true`, `1.0` or `"8"` would otherwise name picture 1 or 8.
MediaId = Annotated[StrictInt, Field(ge=1, le=2**63 - 1)]


class PictureIn(Strict):
    """A picture in an entry: its id (from the upload) and, optionally, this entry's texts."""

    id: MediaId
    alt: Text | None = Field(None, description="what the picture shows; default: the upload's")
    caption: Text | None = None
    credit: Text | None = None


def _picture_kind(value: Any) -> str:
    return "object" if isinstance(value, dict | PictureIn) else "id"


# An id or an object, told apart by the value's shape, so an error names the right one.
Picture = Annotated[
    Annotated[MediaId, Tag("id")] | Annotated[PictureIn, Tag("object")],
    Discriminator(_picture_kind),
]
Pictures = list[Picture]


def _pictures(items: Pictures | None) -> list[PictureTexts | int] | None:
    if items is None:
        return None
    return [
        PictureTexts(p.id, p.alt, p.caption, p.credit) if isinstance(p, PictureIn) else p
        for p in items
    ]


class BlogIn(Strict):
    slug: Text = Field(description="URL name: lowercase letters, digits, hyphens")
    title: Text
    description: Text = ""
    key_points: list[Text] = []
    language: Text = "en"
    timezone: Text = Field("UTC", description="IANA zone the newsroom works in, e.g. Europe/Kyiv")
    cover: MediaId | None = Field(None, description="share image: a media id")


class BlogPatch(Strict):
    title: Text | None = None
    description: Text | None = None
    key_points: list[Text] | None = None
    language: Text | None = Field(None, description="a BCP 47 tag such as uk or pt-BR")
    timezone: Text | None = Field(None, description="an IANA zone such as Europe/Kyiv")
    status: Text | None = Field(None, description="'ended' ends the blog, 'live' reopens it")
    cover: MediaId | None = Field(None, description="share image: a media id; null removes it")


class EntryIn(Strict):
    headline: Text = ""
    body: Text = Field(
        "", description="Markdown; raw HTML is shown as text; may be empty with pictures"
    )
    pinned: bool = False
    key_event: bool = False
    status: Text = Field("published", description="draft, submitted, scheduled or published")
    publish_at: datetime | None = Field(
        None, description="with status 'scheduled': when it goes public (ISO 8601 with offset)"
    )
    published_at: datetime | None = Field(
        None,
        description="editors and admins, with status 'published': the entry's original time "
        "(an import, a report written up offline), in the past, ISO 8601 with offset",
    )
    media: Pictures = Field(
        [], description="pictures shown after the body, in order: ids or {id, alt, caption, credit}"
    )


class EntryPatch(Strict):
    headline: Text | None = None
    body: Text | None = None
    pinned: bool | None = None
    key_event: bool | None = None
    status: Text | None = None
    publish_at: datetime | None = Field(None, description="a scheduled entry's new time")
    review_note: Text | None = Field(
        None, description='with "status": "draft", sends a submission back to its author'
    )
    correction: Text | None = Field(None, description="shown to readers as a correction note")
    media: Pictures | None = Field(None, description="the entry's new list of pictures")
    version: int | None = Field(None, description="the version you edited (or use If-Match)")


class RetractIn(Strict):
    public_note: Text = Field("", description="if given, readers see this note in its place")


def _entry_id(entry_id: int) -> int:
    """The entry id from the URL; one that cannot exist is simply not found."""
    if not 0 < entry_id <= MAX_ID:
        raise NotFound(f"no entry {entry_id} in this blog")
    return entry_id


EntryId = Annotated[int, Depends(_entry_id)]


def _entry_response(entry: Any, status: int = 200) -> JSONResponse:
    # The ETag is the edit version (for If-Match); pins and retractions do not change it, so a
    # cache must ask again every time rather than trust it for any length of time.
    headers = public_headers(f'"{entry.version}"')
    return JSONResponse(entry_json(entry), status_code=status, headers=headers)


@router.post("/blogs", status_code=201, summary="Create a live blog")
def create_blog(payload: BlogIn, user: Editor, svc: Svc) -> JSONResponse:
    blog = svc.create_blog(user, **payload.model_dump())
    return JSONResponse(blog_json(blog), status_code=201)


@router.get("/blogs", summary="List live and recent blogs")
def list_blogs(svc: Svc) -> JSONResponse:
    body = {"blogs": [blog_json(b) for b in svc.blogs()]}
    return JSONResponse(body, headers=public_headers())


@router.get("/blogs/{slug}", summary="A blog: status, seq, key points")
def get_blog(slug: str, request: Request, svc: Svc) -> Response:
    blog = svc.blog(slug)
    etag = seq_etag(blog.id, blog.seq)
    cached = not_modified(request, etag)
    if cached is not None:
        return cached
    return JSONResponse(blog_json(blog), headers=public_headers(etag))


@router.patch("/blogs/{slug}", summary="Edit a blog, end it or reopen it")
def patch_blog(slug: str, payload: BlogPatch, user: Editor, svc: Svc) -> dict[str, Any]:
    changes = payload.model_dump(exclude_none=True)
    if "cover" in payload.model_fields_set:
        changes["cover"] = payload.cover  # null removes the cover
    return blog_json(svc.update_blog(user, slug, changes))


@router.post("/blogs/{slug}/entries", status_code=201, summary="Write an entry")
def create_entry(slug: str, payload: EntryIn, user: Editor, svc: Svc) -> JSONResponse:
    fields = payload.model_dump(exclude={"media"})
    entry = svc.create_entry(user, slug, media=_pictures(payload.media), **fields)
    return _entry_response(entry, 201)


@router.get("/blogs/{slug}/entries", summary="Published entries, newest first")
def list_entries(
    slug: str,
    request: Request,
    svc: Svc,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    before: Annotated[str | None, Query(description="the `next` of the previous page")] = None,
) -> Response:
    cursor = _cursor(before) if before else None
    blog, page = svc.entries(slug, limit, cursor)
    # Each page is its own representation: a validator from one page must not match another.
    page_key = f"l{limit}" + (f"c{encode_cursor(*cursor)}" if cursor else "")
    etag = seq_etag(blog.id, blog.seq, page_key)
    cached = not_modified(request, etag)
    if cached is not None:
        return cached
    body = {
        "blog": {"slug": blog.slug, "seq": blog.seq, "status": blog.status.value},
        "entries": [entry_json(e) for e in page.entries],
        "next": encode_cursor(*page.next_cursor) if page.next_cursor else None,
    }
    return JSONResponse(body, headers=public_headers(etag))


@router.get("/blogs/{slug}/entries/{entry_id}", summary="One entry")
def get_entry(
    slug: str, entry_id: EntryId, svc: Svc, viewer: Annotated[User | None, Depends(optional_user)]
) -> JSONResponse:
    return _entry_response(svc.entry(slug, entry_id, viewer))


@router.patch("/blogs/{slug}/entries/{entry_id}", summary="Edit an entry (needs its version)")
def patch_entry(
    slug: str,
    entry_id: EntryId,
    payload: EntryPatch,
    user: Editor,
    svc: Svc,
    if_match: Annotated[str | None, Header(description='"VERSION" from the entry ETag')] = None,
) -> JSONResponse:
    version = None
    if if_match is not None:
        version = Version(_parse_if_match(if_match), from_header=True)
    elif payload.version is not None:
        version = Version(payload.version, from_header=False)
    changes = payload.model_dump(exclude_none=True, exclude={"version", "media"})
    if payload.media is not None:
        changes["media"] = _pictures(payload.media)
    return _entry_response(svc.edit_entry(user, slug, entry_id, changes, version))


@router.get("/blogs/{slug}/worklist", summary="Drafts, submissions and scheduled entries")
def get_worklist(slug: str, user: Editor, svc: Svc) -> JSONResponse:
    entries = svc.worklist(user, slug)
    body = {"entries": [entry_json(e) for e in entries]}
    return JSONResponse(body, headers={"Cache-Control": "private, no-store"})


class PreviewIn(Strict):
    body: Text = Field(description="Markdown, rendered exactly as a published entry would be")


@router.post("/preview", summary="Render Markdown as an entry would show it")
def preview(payload: PreviewIn, user: Editor) -> dict[str, str]:
    # Signed-in users only: rendering costs CPU, and nobody else writes entries.
    return {"html": render_markdown(payload.body)}


@router.get("/blogs/{slug}/entries/{entry_id}/revisions", summary="Every stored revision")
def list_revisions(slug: str, entry_id: EntryId, user: Editor, svc: Svc) -> dict[str, Any]:
    revisions = svc.revisions(user, slug, entry_id)
    return {
        "revisions": [
            {
                "version": r.version,
                "headline": r.headline,
                "body": r.body,
                "html": r.html,
                "correction": r.correction,
                "editor": r.editor,
                "created_at": iso(r.created_at),
                "media": [media_json(ref) for ref in r.media],
            }
            for r in revisions
        ]
    }


@router.delete("/blogs/{slug}/entries/{entry_id}", status_code=204, summary="Retract an entry")
def retract_entry(
    slug: str,
    entry_id: EntryId,
    user: Editor,
    svc: Svc,
    payload: Annotated[RetractIn | None, Body()] = None,
) -> Response:
    svc.retract_entry(user, slug, entry_id, payload.public_note if payload else "")
    return Response(status_code=204)


@router.get("/blogs/{slug}/events", summary="The event log after seq N (polling and catch-up)")
def list_events(
    slug: str,
    request: Request,
    svc: Svc,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = MAX_EVENTS,
) -> Response:
    blog, events = svc.events(slug, after, limit)
    etag = seq_etag(blog.id, blog.seq, f"a{after}l{limit}")
    cached = not_modified(request, etag)
    if cached is not None:
        return cached
    items = ",".join(event_json_text(e) for e in events)
    # A client ahead of the log (a seq from another blog, a restored database) is told where the
    # log really ends, so its next poll gets the events it would otherwise wait for forever.
    next_after = events[-1].seq if events else min(after, blog.seq)
    body = f'{{"events":[{items}],"next":{next_after},"seq":{blog.seq}}}'
    return Response(body, media_type="application/json", headers=public_headers(etag))


def _parse_if_match(value: str) -> int:
    """The version in an If-Match header: `"3"`, `W/"3"` or a bare `3`."""
    match = _VERSION_RE.fullmatch(value.strip())
    if match is None:
        raise InvalidInput("If-Match", 'must be the entry version in quotes, e.g. "3"')
    return int(match.group(1) or match.group(2))


def _cursor(before: str) -> tuple[datetime, int]:
    moment, entry_id = decode_cursor(before)
    if not 0 < entry_id <= MAX_ID:
        raise InvalidInput("before", "not a cursor this API returned")
    return moment, entry_id
