"""/api/docs: Swagger UI for the JSON API, served by the app itself.

FastAPI's own docs page loads Swagger UI from a CDN and starts it with an inline script, and the
app's CSP (web/security.py: scripts from this origin only, none inline) blanks it. Here the
assets come from the swagger-ui-bundle-v2 package (Swagger UI's Apache-2.0 release files,
installed with the app, nothing copied into this repository) under a path that names their
version, so browsers may keep them for good, and a small static script of ours starts it.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from starlette.responses import FileResponse, HTMLResponse
from swagger_ui_bundle import swagger_ui_path

from liveblog.web.templating import render

OPENAPI_URL = "/api/openapi.json"
DOCS_URL = "/api/docs"
RELEASE = swagger_ui_path.name  # "swagger-ui-5.31.0": a new release is a new asset path
ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}
FOREVER = {"cache-control": "public, max-age=31536000, immutable"}

router = APIRouter(include_in_schema=False)


@router.get(DOCS_URL)
def api_docs() -> HTMLResponse:
    page = render("api_docs.html", assets=f"{DOCS_URL}/{RELEASE}", openapi_url=OPENAPI_URL)
    return HTMLResponse(page)


@router.get(DOCS_URL + "/{release}/{name}")
def asset(release: str, name: str) -> FileResponse:
    """Only the two files the page loads, and only from the installed release."""
    if release != RELEASE or name not in ASSETS:
        raise HTTPException(404)
    return FileResponse(swagger_ui_path / name, media_type=ASSETS[name], headers=FOREVER)
