"""The facade web and CLI receive: one object, assembled from one class per concept.

Each part (usecases/) holds the use cases of one concept and shares the store (reads), the
door (every write, usecases/door.py) and the clock. Nothing here does work of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from liveblog.broadcast.base import Hub
from liveblog.media.library import MediaLibrary
from liveblog.media.memory import MemoryBlobs
from liveblog.storage.base import Store
from liveblog.usecases.audit import AuditTrail
from liveblog.usecases.blogs import Blogs
from liveblog.usecases.core import utcnow
from liveblog.usecases.door import Door
from liveblog.usecases.entries import Entries, Snapshot, Version
from liveblog.usecases.media import Pictures
from liveblog.usecases.outbox import Reach
from liveblog.usecases.presence import DeskPresence
from liveblog.usecases.sessions import SessionPolicy, Sessions
from liveblog.usecases.tokens import Tokens
from liveblog.usecases.users import Users
from liveblog.usecases.webhooks import Webhooks
from liveblog.usecases.worklist import Worklist

__all__ = ["Liveblog", "Snapshot", "Version"]


class Liveblog(
    Blogs,
    Entries,
    Pictures,
    Worklist,
    DeskPresence,
    Users,
    Tokens,
    Sessions,
    AuditTrail,
    Webhooks,
):
    def __init__(
        self,
        store: Store,
        hub: Hub,
        clock: Callable[[], datetime] = utcnow,
        policy: SessionPolicy | None = None,
        library: MediaLibrary | None = None,
        reach: Reach | None = None,
    ) -> None:
        self.store = store
        # Pictures' bytes: the configured store (web/app.py, cli.py); in memory otherwise.
        self.library = library or MediaLibrary(MemoryBlobs())
        self.clock = clock
        # The door reads the clock at each write, so a test that sets `clock` moves both.
        self.door = Door(store, hub, lambda: self.clock(), reach)
        self.policy = policy or SessionPolicy()
