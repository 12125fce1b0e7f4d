"""The site settings made into a `Site` (domain/site.py), checked at start, and the files it
may serve itself: the publisher's logo and the default share image, when they are local files."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response

from liveblog.domain.errors import NotFound
from liveblog.domain.site import Site
from liveblog.settings import SettingError, Settings

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
}
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?")


@dataclass(frozen=True, slots=True)
class SiteFiles:
    """Local files the site serves under /site/: name (logo, share) to path and media type."""

    files: dict[str, tuple[Path, str]]


def _base_url(settings: Settings) -> str:
    value = settings.base_url.strip().rstrip("/")
    if not value:
        fallback = f"http://{settings.host}:{settings.port}"
        log.warning(
            "LIVEBLOG_BASE_URL is not set: canonical links, feeds and structured data name %s; "
            "set it to the address readers use",
            fallback,
        )
        return fallback
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise SettingError(
            f"LIVEBLOG_BASE_URL: {value!r} is not an http(s) address such as "
            "https://live.example.org"
        )
    return value


def _asset(
    variable: str, value: str, name: str, base: str, files: dict[str, tuple[Path, str]]
) -> str | None:
    """A URL as given, or a local image file served at /site/NAME.EXT."""
    value = value.strip()
    if not value:
        return None
    if value.startswith(("https://", "http://")):
        return value
    path = Path(value)
    kind = IMAGE_TYPES.get(path.suffix.lower())
    if kind is None or not path.is_file():
        raise SettingError(
            f"{variable}: {value!r} is neither an http(s) URL nor an image file "
            f"({', '.join(sorted(IMAGE_TYPES))}) that exists"
        )
    files[name] = (path.resolve(), kind)
    return f"{base}/site/{name}{path.suffix.lower()}"


def site_from_settings(settings: Settings) -> tuple[Site, SiteFiles]:
    base = _base_url(settings)
    files: dict[str, tuple[Path, str]] = {}
    logo = _asset("LIVEBLOG_PUBLISHER_LOGO", settings.publisher_logo, "logo", base, files)
    share = _asset("LIVEBLOG_SHARE_IMAGE", settings.share_image, "share", base, files)
    origins = []
    for part in filter(None, (p.strip().rstrip("/") for p in settings.frame_origins.split(","))):
        if not _ORIGIN.fullmatch(part):
            raise SettingError(
                f"LIVEBLOG_FRAME_ORIGINS: {part!r} is not an origin such as https://partner.example"
            )
        origins.append(part)
    name = settings.site_name.strip() or "Liveblog"
    site = Site(
        base_url=base,
        name=name,
        publisher_name=settings.publisher_name.strip() or name,
        publisher_logo=logo,
        share_image=share,
        frame_origins=tuple(origins),
    )
    return site, SiteFiles(files)


@router.api_route("/site/{name}.{ext}", methods=["GET", "HEAD"])
def site_file(name: str, ext: str, request: Request) -> Response:
    files: SiteFiles = request.app.state.site_files
    found = files.files.get(name)
    if found is None or found[0].suffix.lower() != f".{ext.lower()}":
        raise NotFound("no such file")
    path, kind = found
    # The site's strict CSP comes with it, so an SVG's own script could not run either.
    headers = {"Cache-Control": "public, max-age=3600"}
    return FileResponse(path, media_type=kind, headers=headers)
