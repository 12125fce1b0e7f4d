"""The pictures' use cases on both backends (SQLite and PostgreSQL), through the service with
the in-memory blob store: the queries that decide who may see a picture and when it goes."""

from __future__ import annotations

from pathlib import Path

import pytest

from liveblog.broadcast.base import NullHub
from liveblog.domain.errors import InvalidState
from liveblog.domain.media import MediaState
from liveblog.domain.models import Role
from liveblog.media.library import MediaLibrary
from liveblog.media.memory import MemoryBlobs
from liveblog.service import Liveblog
from liveblog.storage.sql import SqlStore

from pictures import jpeg, photo


def test_pictures_follow_their_entries_on_both_backends(
    any_store: SqlStore, tmp_path: Path
) -> None:
    """Private on upload, public with a published entry, still public while a second entry
    shows it, withdrawn (files deleted, URLs recorded, texts cleared) when the last one goes,
    and then refused in a new entry — the same on SQLite and PostgreSQL."""
    blobs = MemoryBlobs()
    svc = Liveblog(any_store, NullHub(), library=MediaLibrary(blobs))
    editor = svc.create_user("eddie", Role.EDITOR, "editor-password")
    svc.create_blog(editor, slug="flood", title="Flood")
    path = tmp_path / "p.jpg"
    path.write_bytes(jpeg(photo()))
    item, files = svc.upload_media(editor, "flood", path, alt="Sandbags", caption="On the quay")
    assert item.state is MediaState.PRIVATE and set(blobs.files) == {f.key for f in files}
    key = files[0].key
    assert svc.media_file(key, editor).public is False
    one = svc.create_entry(editor, "flood", body="One", media=[item.id])
    two = svc.create_entry(editor, "flood", body="Two", media=[item.id])
    assert svc.media_file(key, None).public is True
    svc.retract_entry(editor, "flood", one.id)
    assert svc.media_file(key, None).public is True
    svc.retract_entry(editor, "flood", two.id)
    with any_store.read() as tx:
        [gone] = tx.media_items(None, [item.id]).values()
        assert tx.keys_in_use([key]) == set()
    assert gone.state is MediaState.WITHDRAWN and (gone.alt, gone.caption) == ("", "")
    assert blobs.files == {}
    [withdrawal] = svc.withdrawn(editor, "flood", two.id)
    assert f"/media/{key}" in withdrawal.urls
    with pytest.raises(InvalidState, match="upload it again"):
        svc.create_entry(editor, "flood", body="Three", media=[item.id])


def test_a_cover_from_any_blog_is_public_and_withdrawn_when_replaced(
    any_store: SqlStore, tmp_path: Path
) -> None:
    """A new blog may take another blog's picture as its cover (it has none of its own yet);
    replacing the cover withdraws the old one when nothing else shows it."""
    blobs = MemoryBlobs()
    svc = Liveblog(any_store, NullHub(), library=MediaLibrary(blobs))
    editor = svc.create_user("eddie", Role.EDITOR, "editor-password")
    svc.create_blog(editor, slug="old", title="Old")
    path = tmp_path / "p.jpg"
    path.write_bytes(jpeg(photo()))
    first, _ = svc.upload_media(editor, "old", path, alt="First")
    path.write_bytes(jpeg(photo(colour=(200, 10, 10))))
    second, _ = svc.upload_media(editor, "old", path, alt="Second")
    blog = svc.create_blog(editor, slug="new", title="New", cover=first.id)
    assert blog.cover is not None and blog.cover.alt == "First"
    assert svc.blog("new").cover == blog.cover
    svc.update_blog(editor, "new", {"cover": second.id})
    with any_store.read() as tx:
        states = {m.id: m.state for m in tx.media_items(None, [first.id, second.id]).values()}
    assert states == {first.id: MediaState.WITHDRAWN, second.id: MediaState.PUBLIC}
    assert [w.media_id for w in svc.withdrawn(editor, "new")] == [first.id]
