"""What the use cases hold of pictures: where their bytes go, how big an upload may be, and the
URL a page uses for each rendition."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from liveblog.domain.media import Media, MediaFile, MediaRef
from liveblog.media.blobs import BlobStore
from liveblog.media.intake import IntakeLimits, Processed, process_image

APP_PREFIX = "/media/"
"""Where the app serves renditions itself (web/media.py)."""


@dataclass(slots=True)
class MediaLibrary:
    blobs: BlobStore
    limits: IntakeLimits = field(default_factory=IntakeLimits)

    def process(self, path: Path) -> Processed:
        return process_image(path, self.limits)

    def url(self, key: str, public: bool) -> str:
        """A public rendition comes from the object store's public URL when there is one;
        everything else through the app, which checks who may see it."""
        if public:
            direct = self.blobs.public_url(key)
            if direct is not None:
                return direct
        return APP_PREFIX + key

    def urls(self, key: str) -> tuple[str, ...]:
        """Every URL a rendition may have been served at (for a CDN purge)."""
        return tuple(dict.fromkeys((self.url(key, False), self.url(key, True))))

    def with_urls(self, ref: MediaRef, public: bool) -> MediaRef:
        files = tuple(replace(f, url=self.url(f.key, public)) for f in ref.files)
        return replace(ref, files=files)

    def files_with_urls(self, item: Media, public: bool) -> list[MediaFile]:
        return [replace(f, url=self.url(f.key, public)) for f in item.files]
