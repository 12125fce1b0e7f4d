"""Pictures: upload, place in entries and covers, and follow the entry's fate — public when an
entry using it is published, withdrawn when its last public use goes.

`place` and `publish_refs` are the steps entries and blogs share; `withdraw_unused` is the one
way a picture is taken down. Files are published or deleted after the commit (the write unit's
`after_commit`), so the store and the database never disagree about a rolled-back write.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liveblog.domain.audit import AuditAction
from liveblog.domain.errors import Gone, InvalidInput, InvalidState, NotFound
from liveblog.domain.media import Media, MediaFile, MediaRef, MediaState, Withdrawal
from liveblog.domain.models import Blog, User
from liveblog.domain.rules import (
    MAX_ALT,
    MAX_CAPTION,
    MAX_CREDIT,
    MAX_MEDIA_PER_ENTRY,
    Action,
    clean_text,
    may,
    require,
)
from liveblog.media.library import MediaLibrary
from liveblog.storage.base import MediaTx
from liveblog.usecases.core import Core
from liveblog.usecases.door import WriteUnit
from liveblog.usecases.lookup import blog_or_404

MAX_LIBRARY = 100


@dataclass(frozen=True, slots=True)
class PictureTexts:
    """What a caller says of a picture in one entry; None keeps what it had (or the upload's)."""

    id: int
    alt: str | None = None
    caption: str | None = None
    credit: str | None = None


@dataclass(frozen=True, slots=True)
class ServedFile:
    data: bytes
    media_type: str
    public: bool


def parse_items(field: str, items: Sequence[Any]) -> list[PictureTexts]:
    """The `media` list of an entry as sent: ids, or objects with an id and texts."""
    if len(items) > MAX_MEDIA_PER_ENTRY:
        raise InvalidInput(field, f"at most {MAX_MEDIA_PER_ENTRY} pictures in one entry")
    wanted: list[PictureTexts] = []
    for item in items:
        texts = item if isinstance(item, PictureTexts) else PictureTexts(id=int(item))
        if any(w.id == texts.id for w in wanted):
            raise InvalidInput(field, f"picture {texts.id} is listed twice")
        wanted.append(texts)
    return wanted


def _texts(field: str, alt: str, caption: str, credit: str) -> tuple[str, str, str]:
    alt = clean_text(f"{field}.alt", alt, limit=MAX_ALT)
    if not alt:
        raise InvalidInput(
            f"{field}.alt", "is required: describe the picture for readers who cannot see it"
        )
    return (
        alt,
        clean_text(f"{field}.caption", caption, limit=MAX_CAPTION),
        clean_text(f"{field}.credit", credit, limit=MAX_CREDIT),
    )


def place(
    tx: MediaTx,
    library: MediaLibrary,
    scope: int | None,
    wanted: Sequence[PictureTexts],
    current: Sequence[MediaRef],
    public: bool,
) -> list[MediaRef]:
    """The pictures an entry will carry: each must be of the blog `scope` (any blog's for a
    cover: None) and not withdrawn; texts not given keep the entry's own, else the upload's."""
    items = tx.media_items(scope, [w.id for w in wanted])
    had = {ref.id: ref for ref in current}
    refs = []
    for w in wanted:
        item = items.get(w.id)
        if item is None:
            raise InvalidInput("media", f"no picture {w.id}" + (" in this blog" if scope else ""))
        if item.state is MediaState.WITHDRAWN:
            raise InvalidState(f"picture {w.id} was withdrawn; upload it again to use it")
        old = had.get(w.id)
        base = (old.alt, old.caption, old.credit) if old else (item.alt, item.caption, item.credit)
        alt, caption, credit = _texts(
            f"media[{w.id}]",
            base[0] if w.alt is None else w.alt,
            base[1] if w.caption is None else w.caption,
            base[2] if w.credit is None else w.credit,
        )
        ref = MediaRef(w.id, alt, caption, credit, item.width, item.height, tuple(item.files))
        refs.append(library.with_urls(ref, public))
    return refs


def pictures_differ(new: Sequence[MediaRef], old: Sequence[MediaRef]) -> bool:
    """Whether an entry's pictures changed as readers see them: which, in what order, with
    what texts (URLs aside: they follow the picture's state, not the editor)."""
    return [(r.id, r.alt, r.caption, r.credit) for r in new] != [
        (r.id, r.alt, r.caption, r.credit) for r in old
    ]


def withdrawn_among(tx: MediaTx, scope: int | None, refs: Sequence[MediaRef]) -> list[int]:
    """The ids of these pictures that were withdrawn (their last public use went while the
    entry waited as a draft or a schedule): a withdrawn picture never comes back."""
    return _withdrawn(tx.media_items(scope, [ref.id for ref in refs]), refs)


def _withdrawn(items: dict[int, Media], refs: Sequence[MediaRef]) -> list[int]:
    return [
        ref.id for ref in refs if ref.id not in items or items[ref.id].state is MediaState.WITHDRAWN
    ]


def publish_refs(
    unit: WriteUnit, library: MediaLibrary, scope: int | None, refs: Sequence[MediaRef]
) -> list[MediaRef]:
    """Make an entry's (or a cover's) pictures public as it goes public: their state in this
    transaction, their files once it commits. Returns the refs with their public URLs."""
    items = unit.tx.media_items(scope, [ref.id for ref in refs])
    gone = _withdrawn(items, refs)
    if gone:
        listed = ", ".join(str(i) for i in gone)
        raise InvalidState(
            f"picture {listed} was withdrawn after this entry was written (its last published "
            "use went); remove it from the entry or upload it again"
        )
    for ref in refs:
        if items[ref.id].state is MediaState.PRIVATE:
            unit.tx.set_media_state(ref.id, MediaState.PUBLIC, unit.now)
    # Every file, not only the newly public ones: publishing is idempotent, and a copy that
    # failed once (an object store away) is made again by the entry's next write.
    keys = [f.key for ref in refs for f in ref.files]
    if keys:
        blobs = library.blobs

        def publish() -> None:
            for key in keys:
                blobs.publish(key)

        unit.after_commit(publish)
    return [library.with_urls(ref, True) for ref in refs]


def withdraw_unused(
    unit: WriteUnit,
    library: MediaLibrary,
    blog: Blog,
    media_ids: Iterable[int],
    by: User,
    entry_id: int | None = None,
) -> list[Withdrawal]:
    """Take down each of these public pictures that no published entry and no cover uses any
    more: 410 from now on, its URLs recorded (audit and the entry's withdrawn list) for a CDN
    purge, its files deleted after the commit unless another upload of the same bytes is kept."""
    items = unit.tx.media_items(None if entry_id is None else blog.id, media_ids)
    done = []
    for item in items.values():
        if item.state is not MediaState.PUBLIC or unit.tx.media_in_public_use(item.id):
            continue
        unit.tx.set_media_state(item.id, MediaState.WITHDRAWN, unit.now)
        urls = tuple(url for f in item.files for url in library.urls(f.key))
        withdrawal = Withdrawal(media_id=item.id, urls=urls, at=unit.now, entry_id=entry_id)
        unit.tx.insert_withdrawal(blog.id, withdrawal)
        unit.withdrew(blog, urls)
        detail = {"media_id": item.id, "urls": list(urls)}
        unit.record(by, [(AuditAction.MEDIA_WITHDRAW, detail)], blog_id=blog.id, entry_id=entry_id)
        done.append((item, withdrawal))
    if done:
        keys = [f.key for item, _ in done for f in item.files]
        kept = unit.tx.keys_in_use(keys)
        still_public = unit.tx.keys_in_use(keys, public=True)
        doomed = set(keys) - kept
        # Another upload of the same bytes waits in a draft: keep the file, but not public.
        hidden = kept - still_public
        blobs = library.blobs

        def delete() -> None:
            for key in sorted(doomed):
                blobs.withdraw(key)
            for key in sorted(hidden):
                blobs.unpublish(key)

        unit.after_commit(delete)
    return [w for _, w in done]


class Pictures(Core):
    def upload_media(
        self,
        user: User,
        slug: str,
        path: Path,
        *,
        alt: str,
        caption: str = "",
        credit: str = "",
    ) -> tuple[Media, list[MediaFile]]:
        """Take an uploaded file (a temporary file the caller deletes), keep only its renditions.
        Returns the media item and its files with the URLs staff can fetch now."""
        require(user, Action.UPLOAD_MEDIA)
        alt, caption, credit = _texts("media", alt, caption, credit)
        with self.store.read() as tx:
            blog = blog_or_404(tx, slug)
        processed = self.library.process(path)  # refuses anything but a clean picture
        files = [
            MediaFile(r.key, r.width, r.height, r.format, r.media_type, len(r.data))
            for r in processed.renditions
        ]
        for rendition in processed.renditions:
            self.library.blobs.put(rendition.key, rendition.data, rendition.media_type)
        try:
            with self.door.write() as unit:
                item = unit.tx.insert_media(
                    Media(
                        id=0,
                        blog_id=blog.id,
                        alt=alt,
                        caption=caption,
                        credit=credit,
                        width=processed.width,
                        height=processed.height,
                        files=files,
                        state=MediaState.PRIVATE,
                        created_by=user.id,
                        created_at=unit.now,
                    )
                )
                detail = {
                    "media_id": item.id,
                    "width": item.width,
                    "height": item.height,
                    "format": processed.source_format,
                }
                unit.record(user, [(AuditAction.MEDIA_UPLOAD, detail)], blog_id=blog.id)
        except BaseException:
            self._forget_files([f.key for f in files])
            raise
        return item, self.library.files_with_urls(item, False)

    def _forget_files(self, keys: list[str]) -> None:
        """Delete the files of an upload that did not commit, unless a kept item shares them."""
        with self.store.read() as tx:
            kept = tx.keys_in_use(keys)
        for key in set(keys) - kept:
            self.library.blobs.withdraw(key)

    def recent_media(
        self, user: User, slug: str, limit: int = 50
    ) -> list[tuple[Media, list[MediaFile]]]:
        """The blog's pictures that can still be used, newest first (the desk's library)."""
        require(user, Action.UPLOAD_MEDIA)
        with self.store.read() as tx:
            blog = blog_or_404(tx, slug)
            items = tx.recent_media(blog.id, max(1, min(limit, MAX_LIBRARY)))
        return [
            (item, self.library.files_with_urls(item, item.state is MediaState.PUBLIC))
            for item in items
        ]

    def withdrawn(self, user: User, slug: str, entry_id: int | None = None) -> list[Withdrawal]:
        """The pictures an entry's edits and retraction took down (a retracted entry's too:
        that is when a CDN purge matters most), or with no entry every one of the blog's,
        covers included; with their URLs."""
        require(user, Action.EDIT_PUBLISHED)
        with self.store.read() as tx:
            blog = blog_or_404(tx, slug)
            if entry_id is not None and tx.entry(blog.id, entry_id) is None:
                raise NotFound(f"no entry {entry_id} in this blog")
            return tx.withdrawals(blog.id, entry_id)

    def media_file(self, key: str, viewer: User | None) -> ServedFile:
        """A rendition's bytes for the app's /media/ route: anyone's once public, staff's
        while private, gone (410) once withdrawn."""
        with self.store.read() as tx:
            access = tx.file_access(key)
        if access is None:
            raise NotFound("no such picture")
        media_type, states = access
        public = MediaState.PUBLIC in states
        if not public:
            if MediaState.PRIVATE in states:
                if viewer is None or not may(viewer, Action.UPLOAD_MEDIA):
                    raise NotFound("no such picture")
            else:
                raise Gone("this picture was withdrawn", public_note="")
        data = self.library.blobs.get(key)
        if data is None:
            raise NotFound("no such picture")
        return ServedFile(data=data, media_type=media_type, public=public)
