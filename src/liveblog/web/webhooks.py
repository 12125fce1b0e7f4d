"""The API of a blog's webhooks and of what left the site for it (the desk's delivery log)."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Path
from pydantic import Field
from starlette.responses import JSONResponse, Response

from liveblog.domain.errors import InvalidInput
from liveblog.domain.outbox import Webhook
from liveblog.service import Liveblog
from liveblog.usecases.webhooks import MAX_URL, retraction_reach
from liveblog.web.api import Editor, Strict, Text
from liveblog.web.auth import use_service

router = APIRouter(prefix="/api")
Svc = Annotated[Liveblog, Depends(use_service)]
WebhookId = Annotated[int, Path(ge=1, le=2**63 - 1)]
PRIVATE = {"Cache-Control": "private, no-store"}


class WebhookIn(Strict):
    url: Text = Field(max_length=MAX_URL, description="an http(s) URL on a public address")
    events: list[Text] = Field(
        min_length=1,
        max_length=4,
        description="entry-published, entry-updated, entry-retracted, blog-ended",
    )
    secret: Text | None = Field(
        None, description="signs each delivery (16 to 200 characters); made for you if absent"
    )


def _hook(hook: Webhook, *, secret: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": hook.id,
        "url": hook.url,
        "events": [e.value for e in hook.events],
        "created_at": hook.created_at.isoformat(),
    }
    if secret:
        body["secret"] = hook.secret  # shown once, in the answer to its creation
    return body


@router.get("/blogs/{slug}/webhooks", summary="A blog's webhooks (editors)")
def list_webhooks(slug: str, user: Editor, svc: Svc) -> JSONResponse:
    hooks = svc.webhooks(user, slug)
    return JSONResponse({"webhooks": [_hook(h) for h in hooks]}, headers=PRIVATE)


@router.post("/blogs/{slug}/webhooks", status_code=201, summary="Add a webhook (editors)")
def add_webhook(slug: str, payload: WebhookIn, user: Editor, svc: Svc) -> JSONResponse:
    try:
        httpx.URL(payload.url)  # the relay's client must be able to send to it
    except httpx.InvalidURL as exc:
        raise InvalidInput("url", f"cannot be used: {exc}") from None
    hook = svc.add_webhook(user, slug, payload.url, payload.events, payload.secret)
    return JSONResponse(_hook(hook, secret=True), status_code=201, headers=PRIVATE)


@router.delete(
    "/blogs/{slug}/webhooks/{webhook_id}", status_code=204, summary="Remove a webhook (editors)"
)
def remove_webhook(slug: str, webhook_id: WebhookId, user: Editor, svc: Svc) -> Response:
    svc.remove_webhook(user, slug, webhook_id)
    return Response(status_code=204)


@router.get(
    "/blogs/{slug}/deliveries",
    summary="What left the site for this blog: purges and webhook deliveries (editors)",
)
def list_deliveries(slug: str, user: Editor, svc: Svc) -> JSONResponse:
    deliveries = svc.deliveries(user, slug)
    body = {
        "purge_targets": list(svc.door.reach.purge_targets),
        "retractions": retraction_reach(deliveries),
        "deliveries": [d.json() for d in deliveries],
    }
    return JSONResponse(body, headers=PRIVATE)
