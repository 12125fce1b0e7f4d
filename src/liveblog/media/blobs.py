"""Where the bytes of photo renditions are kept: the BlobStore protocol, the local directory
that is the default, and the factory that picks a store from the settings.

A rendition is small (a few MB at most) and content-addressed: its key is `<sha256 hex>.<ext>`.
Every method checks the key strictly, so that no key can name a path outside the store.
Who may read a rendition is the database's business (its media state); a store only keeps the
bytes, and for an object store also a public copy readers fetch without the app.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

KEY_PATTERN = re.compile(r"[0-9a-f]{64}\.(avif|webp|jpg|png)")
MEDIA_TYPES = {"avif": "image/avif", "webp": "image/webp", "jpg": "image/jpeg", "png": "image/png"}
"""Each key's extension and the only media type a rendition under it may have."""

DIRECTORY_MODE = 0o750
FILE_MODE = 0o640
# Not world-readable: private renditions are unpublished photos; the app reads them, and an
# operator who wants a web server in front adds it to the app's group.


class BlobStoreError(Exception):
    """The store failed to keep or read bytes (disk, network, permissions, a missing bucket):
    an operator's problem, not a caller's. The message names the store and the key."""


def check_key(key: str) -> str:
    """The key's extension, or ValueError when the key is not `<64 lowercase hex>.<ext>`."""
    match = KEY_PATTERN.fullmatch(key) if isinstance(key, str) else None
    if match is None:
        shown = repr(key)[:90]
        raise ValueError(
            f"not a rendition key: {shown} (expected 64 lowercase hex digits, a dot and one of "
            "avif, webp, jpg, png)"
        )
    return match.group(1)


def media_type_of(key: str) -> str:
    """The media type a rendition under this key has (image/jpeg for .jpg …)."""
    return MEDIA_TYPES[check_key(key)]


def check_put(key: str, media_type: str) -> None:
    """ValueError unless the key is valid and the media type is the one its extension names:
    a published copy's Content-Type is derived from the key, so the two may never disagree."""
    expected = media_type_of(key)
    if media_type != expected:
        raise ValueError(f"{key}: media type {media_type!r} does not match the key ({expected})")


class BlobStore(Protocol):
    """Where renditions are kept. Every method raises ValueError for a malformed key and
    BlobStoreError when the store itself fails."""

    def put(self, key: str, data: bytes, media_type: str) -> None:
        """Store privately: readable through get() (the app serves it to signed-in staff only),
        not at any public URL."""

    def get(self, key: str) -> bytes | None:
        """The bytes, private or public; None when absent."""

    def publish(self, key: str) -> None:
        """Make it readable by anyone at public_url(key) (an entry using it went public).
        Idempotent; BlobStoreError when nothing is stored under the key."""

    def unpublish(self, key: str) -> None:
        """No longer readable at public_url(key), still kept privately (another upload of the
        same bytes is waiting in a draft). Idempotent; absent is fine."""

    def withdraw(self, key: str) -> None:
        """Delete it everywhere (private and public copies). Idempotent; absent is fine."""

    def public_url(self, key: str) -> str | None:
        """Where readers fetch a published rendition; None when the app itself serves
        /media/{key}."""

    def keys(self) -> Iterator[str]:
        """Every stored key (private or public), each once, in sorted order."""

    def describe(self) -> str:
        """Where the bytes are, for the startup log."""


class LocalBlobs:
    """Renditions as files in one directory, named by their keys.

    Each file is written whole under a temporary name, synced, then renamed over its key, so
    a reader (or a restart after a crash) sees the old bytes or the new, never part of a file.
    Publishing changes nothing here: the app serves every rendition itself and decides from
    the database who may read it, so there is no public URL.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
        except OSError as exc:
            raise BlobStoreError(
                f"cannot create the media directory {self.directory}: {exc.strerror}"
            ) from exc

    def _path(self, key: str) -> Path:
        check_key(key)
        return self.directory / key

    def put(self, key: str, data: bytes, media_type: str) -> None:
        check_put(key, media_type)
        target = self._path(key)
        # A dot-name the key pattern never matches, so keys() and readers ignore it.
        try:
            fd, temp = tempfile.mkstemp(dir=self.directory, prefix=f".{key[:16]}-", suffix=".part")
        except OSError as exc:
            raise self._error("write", key, exc) from exc
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fchmod(file.fileno(), FILE_MODE)
                os.fsync(file.fileno())
            os.replace(temp, target)
        except OSError as exc:
            Path(temp).unlink(missing_ok=True)
            raise self._error("write", key, exc) from exc
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        self._sync_directory()

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._error("read", key, exc) from exc

    def publish(self, key: str) -> None:
        if not self._path(key).is_file():
            raise BlobStoreError(f"cannot publish {key}: it is not stored in {self.directory}")

    def unpublish(self, key: str) -> None:
        check_key(key)  # nothing public to take back: the app itself decides who reads a file

    def withdraw(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise self._error("delete", key, exc) from exc
        self._sync_directory()

    def public_url(self, key: str) -> str | None:
        check_key(key)
        return None

    def keys(self) -> Iterator[str]:
        try:
            names = os.listdir(self.directory)
        except OSError as exc:
            raise BlobStoreError(f"cannot list {self.directory}: {exc.strerror}") from exc
        yield from sorted(name for name in names if KEY_PATTERN.fullmatch(name))

    def describe(self) -> str:
        return f"local directory {self.directory.resolve()}"

    def _error(self, action: str, key: str, exc: OSError) -> BlobStoreError:
        return BlobStoreError(f"cannot {action} {key} in {self.directory}: {exc.strerror or exc}")

    def _sync_directory(self) -> None:
        # The rename (or unlink) is durable only once the directory itself is synced.
        try:
            fd = os.open(self.directory, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass  # some file systems refuse fsync on a directory; the data file is synced
        finally:
            os.close(fd)


def open_blob_store(
    local_dir: Path,
    s3_bucket: str | None,
    s3_endpoint: str | None,
    s3_public_url: str | None,
    s3_prefix: str,
    s3_region: str | None,
) -> BlobStore:
    """The object store when a bucket is configured, else the local directory. ValueError
    names the setting to fix (a bucket without its public URL, or boto3 not installed)."""
    if not s3_bucket:
        return LocalBlobs(local_dir)
    if not s3_public_url:
        raise ValueError(
            f"LIVEBLOG_S3_BUCKET is {s3_bucket!r} but LIVEBLOG_S3_PUBLIC_URL is not set: give "
            "the URL where readers fetch published photos (the bucket's public/ prefix, or a "
            "CDN in front of it)"
        )
    # Imported here so that a plain install, without boto3, never loads the S3 module's needs.
    from liveblog.media.s3 import S3Blobs

    return S3Blobs(
        s3_bucket,
        endpoint_url=s3_endpoint or None,
        region=s3_region or None,
        public_base_url=s3_public_url,
        prefix=s3_prefix,
    )
