"""A blob store in memory, behind the same protocol as the real ones: for tests and for
commands that never touch a picture's bytes."""

from __future__ import annotations

from collections.abc import Iterator


class MemoryBlobs:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.published: set[str] = set()

    def put(self, key: str, data: bytes, media_type: str) -> None:
        self.files[key] = data

    def get(self, key: str) -> bytes | None:
        return self.files.get(key)

    def publish(self, key: str) -> None:
        if key in self.files:
            self.published.add(key)

    def withdraw(self, key: str) -> None:
        self.files.pop(key, None)
        self.published.discard(key)

    def public_url(self, key: str) -> str | None:
        return None

    def keys(self) -> Iterator[str]:
        return iter(sorted(self.files))

    def describe(self) -> str:
        return "memory (nothing kept)"
