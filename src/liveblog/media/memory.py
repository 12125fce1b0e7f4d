"""A blob store in memory, keeping the same contract as the real ones (tests/test_blobs.py
runs it too): for tests and for commands that never touch a picture's bytes."""

from __future__ import annotations

from collections.abc import Iterator

from liveblog.media.blobs import BlobStoreError, check_key, check_put


class MemoryBlobs:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.published: set[str] = set()

    def put(self, key: str, data: bytes, media_type: str) -> None:
        check_put(key, media_type)
        self.files[key] = bytes(data)

    def get(self, key: str) -> bytes | None:
        check_key(key)
        return self.files.get(key)

    def publish(self, key: str) -> None:
        check_key(key)
        if key not in self.files:
            raise BlobStoreError(f"memory: cannot publish {key}: it was never stored")
        self.published.add(key)

    def unpublish(self, key: str) -> None:
        check_key(key)
        self.published.discard(key)

    def withdraw(self, key: str) -> None:
        check_key(key)
        self.files.pop(key, None)
        self.published.discard(key)

    def public_url(self, key: str) -> str | None:
        check_key(key)
        return None

    def keys(self) -> Iterator[str]:
        return iter(sorted(self.files))

    def describe(self) -> str:
        return "memory (kept only while the process runs)"
