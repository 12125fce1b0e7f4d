"""Blogs: create, read, and change title, description, key points and status (end, reopen)."""

from __future__ import annotations

from typing import Any

from liveblog.domain.audit import AuditAction
from liveblog.domain.errors import InvalidInput
from liveblog.domain.events import EventType
from liveblog.domain.media import MediaRef
from liveblog.domain.models import Blog, BlogStatus, User
from liveblog.domain.rules import (
    MAX_DESCRIPTION,
    MAX_TITLE,
    Action,
    check_key_points,
    check_language,
    check_slug,
    check_timezone,
    clean_text,
    require,
)
from liveblog.metrics import timed_write
from liveblog.render.jsonview import blog_json
from liveblog.usecases import audit
from liveblog.usecases.core import Core
from liveblog.usecases.door import WriteUnit
from liveblog.usecases.lookup import blog_or_404
from liveblog.usecases.media import PictureTexts, place, publish_refs, withdraw_unused


class Blogs(Core):
    def create_blog(
        self,
        user: User,
        *,
        slug: str,
        title: str,
        description: str = "",
        key_points: list[str] | None = None,
        language: str = "en",
        timezone: str = "UTC",
        cover: int | None = None,
    ) -> Blog:
        require(user, Action.CREATE_BLOG)
        fields: dict[str, Any] = {
            "slug": check_slug(slug),
            "title": clean_text("title", title, limit=MAX_TITLE, required=True),
            "description": clean_text("description", description, limit=MAX_DESCRIPTION),
            "key_points": check_key_points(key_points or []),
            "language": check_language(language),
            "timezone": check_timezone(timezone),
        }
        with self.door.write() as unit:
            blog = Blog(
                id=0,
                status=BlogStatus.LIVE,
                seq=0,
                created_at=unit.now,
                updated_at=unit.now,
                **fields,
            )
            if cover is not None:
                blog.cover = self._cover(unit, cover)
            unit.tx.insert_blog(blog)
            unit.touch(blog)  # the site's lists (front page, sitemap, feeds) gain it
            unit.record(user, [(AuditAction.BLOG_CREATE, {"title": blog.title})], blog_id=blog.id)
        return blog

    def _cover(self, unit: WriteUnit, media_id: int) -> MediaRef:
        """A cover is public as soon as it is set: it is the blog's share image. Any blog's
        picture may serve (a new blog has none of its own yet)."""
        wanted = [PictureTexts(id=media_id)]
        refs = place(unit.tx, self.library, None, wanted, [], public=True)
        return publish_refs(unit, self.library, None, refs)[0]

    def blog(self, slug: str) -> Blog:
        with self.store.read() as tx:
            return blog_or_404(tx, slug)

    def blogs(self, limit: int = 50) -> list[Blog]:
        with self.store.read() as tx:
            return tx.list_blogs(limit)

    @timed_write
    def update_blog(self, user: User, slug: str, changes: dict[str, Any]) -> Blog:
        """Apply title, description, key points, language, time zone, cover and status
        changes; one event if anything changed."""
        require(user, Action.EDIT_BLOG)
        status = changes.get("status")
        if status is not None:
            require(user, Action.END_BLOG)
            try:
                status = BlogStatus(status)
            except ValueError:
                raise InvalidInput("status", "must be 'live' or 'ended'") from None
        with self.door.write() as unit:
            blog = blog_or_404(unit.tx, slug, for_update=True)
            before = blog_json(blog)
            if changes.get("title") is not None:
                blog.title = clean_text("title", changes["title"], limit=MAX_TITLE, required=True)
            if changes.get("description") is not None:
                blog.description = clean_text(
                    "description", changes["description"], limit=MAX_DESCRIPTION
                )
            if changes.get("key_points") is not None:
                blog.key_points = check_key_points(changes["key_points"])
            # Language and zone can be fixed later (a blog created with the defaults): pages,
            # feeds and structured data follow at once; entries' times are instants, unchanged.
            if changes.get("language") is not None:
                blog.language = check_language(changes["language"])
            if changes.get("timezone") is not None:
                blog.timezone = check_timezone(changes["timezone"])
            old_cover = blog.cover
            if "cover" in changes:
                same = old_cover is not None and old_cover.id == changes["cover"]
                if not same:
                    blog.cover = (
                        None if changes["cover"] is None else self._cover(unit, changes["cover"])
                    )
            ending = status is BlogStatus.ENDED and blog.status is BlogStatus.LIVE
            if status is not None and status is not blog.status:
                blog.status = status
                blog.ended_at = unit.now if ending else None
            if blog_json(blog) == before:
                return blog
            blog.updated_at = unit.now
            unit.tx.update_blog(blog)
            if old_cover is not None and blog.cover != old_cover:
                withdraw_unused(unit, self.library, blog, [old_cover.id], user)
            unit.record(user, audit.blog_changes(before, blog), blog_id=blog.id)
            kind = EventType.BLOG_ENDED if ending else EventType.BLOG_UPDATED
            unit.append(blog, kind, None, {"blog": blog_json(blog)})
        return blog
