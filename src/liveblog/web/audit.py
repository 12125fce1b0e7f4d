"""`GET /api/audit`: who did what to which blog or entry, and when — for editors and admins."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.responses import JSONResponse

from liveblog.domain.audit import AuditRecord
from liveblog.domain.models import User
from liveblog.render.jsonview import iso
from liveblog.service import Liveblog
from liveblog.usecases.audit import MAX_PAGE
from liveblog.web.api import MAX_ID
from liveblog.web.auth import current_user, use_service

router = APIRouter(prefix="/api")


@router.get("/audit", summary="The audit log, newest first (editors and admins)")
def list_audit(
    user: Annotated[User, Depends(current_user)],
    svc: Annotated[Liveblog, Depends(use_service)],
    blog: Annotated[str | None, Query(description="only this blog's (its slug)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="the `next` of the previous page")
    ] = None,
) -> JSONResponse:
    page = svc.audit(user, blog, limit, before)
    body = {"records": [record_json(r) for r in page.records], "next": page.next_before}
    # Staff-only: no shared cache may keep a copy.
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def record_json(record: AuditRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "at": iso(record.at),
        "actor": record.actor,
        "user_id": record.user_id,
        "action": record.action,
        "blog": record.blog_slug,
        "entry_id": record.entry_id,
        "detail": json.loads(record.detail),
    }
