"""What the desk shows beside the public stream: the entries not (yet) public.

Drafts are visible to the whole team, so colleagues can pick one up; a contributor sees only
their own, as with every unpublished entry (editing.may_see_unpublished).
"""

from __future__ import annotations

from liveblog.domain.errors import NotFound
from liveblog.domain.models import Entry, User
from liveblog.domain.rules import Action, may
from liveblog.service import Liveblog

MAX_WORKLIST = 200


def worklist(svc: Liveblog, user: User, slug: str) -> list[Entry]:
    with svc.store.read() as tx:
        blog = tx.blog_by_slug(slug)
        if blog is None:
            raise NotFound(f"no live blog {slug!r}")
        author = None if may(user, Action.EDIT_PUBLISHED) else user.id
        return tx.unpublished_entries(blog.id, MAX_WORKLIST, author)
