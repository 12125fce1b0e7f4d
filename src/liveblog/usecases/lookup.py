"""Finding a blog or an entry inside a transaction, or saying plainly that there is none."""

from __future__ import annotations

from liveblog.domain.errors import NotFound
from liveblog.domain.models import Blog, Entry, EntryStatus
from liveblog.domain.rules import normal_slug
from liveblog.storage.base import BlogTx, EntryTx


def blog_or_404(tx: BlogTx, slug: str, *, for_update: bool = False) -> Blog:
    blog = tx.blog_by_slug(normal_slug(slug), for_update=for_update)
    if blog is None:
        raise NotFound(f"no live blog {slug!r}")
    return blog


def existing_entry(tx: EntryTx, slug: str, entry_id: int) -> tuple[Blog, Entry]:
    """The blog (locked for update) and its not-retracted entry, or NotFound."""
    blog = blog_or_404(tx, slug, for_update=True)
    entry = tx.entry(blog.id, entry_id)
    if entry is None or entry.status is EntryStatus.RETRACTED:
        raise NotFound(f"no entry {entry_id} in this blog")
    return blog, entry
