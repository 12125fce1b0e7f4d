"""What the desk shows beside the public stream: the entries not (yet) public.

Drafts are visible to the whole team, so colleagues can pick one up; a contributor sees only
their own, as with every unpublished entry (entry_rules.may_see_unpublished).
"""

from __future__ import annotations

from liveblog.domain.models import Entry, User
from liveblog.domain.rules import Action, may
from liveblog.usecases.core import Core
from liveblog.usecases.lookup import blog_or_404

MAX_WORKLIST = 200


class Worklist(Core):
    def worklist(self, user: User, slug: str) -> list[Entry]:
        with self.store.read() as tx:
            blog = blog_or_404(tx, slug)
            author = None if may(user, Action.EDIT_PUBLISHED) else user.id
            return tx.unpublished_entries(blog.id, MAX_WORKLIST, author)
