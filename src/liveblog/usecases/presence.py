"""Desk presence: who has a blog's desk open and which entry each is editing, across nodes.

Each open desk page sends a heartbeat every few seconds; the answer is everyone seen within
`PRESENT_FOR`. Stored in the database, so editors on different nodes see each other.
"""

from __future__ import annotations

import re
from datetime import timedelta

from liveblog.domain.errors import InvalidInput
from liveblog.domain.models import EntryStatus, Presence, User
from liveblog.domain.rules import Action, require
from liveblog.usecases.core import Core
from liveblog.usecases.entry_rules import may_see_unpublished
from liveblog.usecases.lookup import blog_or_404

PRESENT_FOR = timedelta(seconds=30)
"""A desk not heard from for this long has gone (closed, asleep, offline)."""
_TAB = re.compile(r"[A-Za-z0-9_-]{8,32}")


class DeskPresence(Core):
    def heartbeat(self, user: User, slug: str, tab: str, editing: int | None) -> list[Presence]:
        """Note this desk page as open (editing `editing`); return everyone on the blog's
        desk."""
        require(user, Action.WRITE_DRAFT)
        _check_tab(tab)
        with self.door.write() as unit:
            tx = unit.tx
            blog = blog_or_404(tx, slug)
            if editing is not None:
                entry = tx.entry(blog.id, editing)
                # Someone else's draft is no more there for a contributor than a missing entry.
                if entry is None or not (
                    entry.status is EntryStatus.PUBLISHED or may_see_unpublished(entry, user)
                ):
                    raise InvalidInput("editing", f"no entry {editing} in this blog")
            tx.touch_presence(blog.id, tab, user.id, editing, unit.now)
            return tx.present(blog.id, unit.now - PRESENT_FOR)

    def leave_desk(self, user: User, slug: str, tab: str) -> None:
        require(user, Action.WRITE_DRAFT)
        _check_tab(tab)
        with self.door.write() as unit:
            unit.tx.leave_presence(blog_or_404(unit.tx, slug).id, tab, user.id)


def _check_tab(tab: str) -> None:
    if not _TAB.fullmatch(tab):
        raise InvalidInput("tab", "must be 8 to 32 letters, digits, '-' or '_'")
