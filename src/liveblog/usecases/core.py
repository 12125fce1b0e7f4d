"""What every use-case class shares: the store for reads, the door for writes, the clock, and
where pictures' bytes are kept."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from liveblog.media.library import MediaLibrary
from liveblog.storage.base import Store
from liveblog.usecases.door import Door


def utcnow() -> datetime:
    return datetime.now(UTC)


class Core:
    """The base of the facade's parts; `liveblog.service.Liveblog` sets these once."""

    store: Store
    door: Door
    clock: Callable[[], datetime]
    library: MediaLibrary
