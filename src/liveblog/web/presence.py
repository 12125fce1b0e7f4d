"""PUT/DELETE /api/blogs/{slug}/presence: the desk's heartbeat and its goodbye."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from liveblog.domain.models import User
from liveblog.service import Liveblog
from liveblog.usecases.presence import PRESENT_FOR
from liveblog.web.auth import current_user, use_service

router = APIRouter(prefix="/api")


class HeartbeatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tab: str = Field(description="a random id the desk page chose for itself")
    editing: int | None = Field(
        None, ge=1, le=2**63 - 1, description="the entry open in its composer, if any"
    )


@router.put("/blogs/{slug}/presence", summary="I have this blog's desk open (desk heartbeat)")
def heartbeat(
    slug: str,
    payload: HeartbeatIn,
    user: Annotated[User, Depends(current_user)],
    svc: Annotated[Liveblog, Depends(use_service)],
) -> JSONResponse:
    here = svc.heartbeat(user, slug, payload.tab, payload.editing)
    body: dict[str, Any] = {
        "present": [
            {"name": p.name, "editing": p.editing, "you": p.tab == payload.tab} for p in here
        ],
        "seconds": int(PRESENT_FOR.total_seconds()),
    }
    return JSONResponse(body, headers={"Cache-Control": "private, no-store"})


@router.delete("/blogs/{slug}/presence", status_code=204, summary="I closed this blog's desk")
def goodbye(
    slug: str,
    tab: Annotated[str, Query()],
    user: Annotated[User, Depends(current_user)],
    svc: Annotated[Liveblog, Depends(use_service)],
) -> Response:
    svc.leave_desk(user, slug, tab)
    return Response(status_code=204)
