"""Use-case rules through the service, on a real SQLite file."""

from __future__ import annotations

import pytest

from liveblog.domain.errors import Forbidden, InvalidInput, InvalidState, TooLarge, VersionConflict
from liveblog.domain.events import EventType
from liveblog.domain.models import EntryStatus
from liveblog.service import Liveblog, Version

from conftest import Team


@pytest.fixture
def slug(svc: Liveblog, team: Team) -> str:
    svc.create_blog(team.editor, slug="floods", title="Floods", timezone="Asia/Kolkata")
    return "floods"


def test_content_edit_bumps_version_and_keeps_every_revision(
    svc: Liveblog, team: Team, slug: str
) -> None:
    """Two edits give versions 1..3, each stored as a revision with who made it."""
    entry = svc.create_entry(team.editor, slug, body="River at 5 m")
    svc.edit_entry(team.editor, slug, entry.id, {"body": "River at 6 m"}, Version(1, True))
    svc.edit_entry(team.admin, slug, entry.id, {"correction": "Not 5 m: 6 m."}, Version(2, False))
    revisions = svc.revisions(team.editor, slug, entry.id)
    assert [(r.version, r.body, r.editor) for r in revisions] == [
        (1, "River at 5 m", "eddie"),
        (2, "River at 6 m", "eddie"),
        (3, "River at 6 m", "ada"),
    ]
    assert revisions[-1].correction == "Not 5 m: 6 m."


def test_pin_toggle_does_not_invalidate_a_colleagues_save(
    svc: Liveblog, team: Team, slug: str
) -> None:
    """Someone pins the entry while I edit it: my save at the version I loaded still works."""
    entry = svc.create_entry(team.editor, slug, body="draft text")
    svc.edit_entry(
        team.admin, slug, entry.id, {"pinned": True, "key_event": True}, Version(1, True)
    )
    saved = svc.edit_entry(team.editor, slug, entry.id, {"body": "better text"}, Version(1, True))
    assert (saved.version, saved.pinned, saved.key_event) == (2, True, True)


def test_stale_version_is_refused_with_the_current_entry(
    svc: Liveblog, team: Team, slug: str
) -> None:
    """A save based on an old version fails and shows what the entry now says."""
    entry = svc.create_entry(team.editor, slug, body="first")
    svc.edit_entry(team.admin, slug, entry.id, {"body": "admin's text"}, Version(1, False))
    with pytest.raises(VersionConflict) as caught:
        svc.edit_entry(team.editor, slug, entry.id, {"body": "mine"}, Version(1, False))
    assert caught.value.current["body"] == "admin's text"
    assert caught.value.precondition is False  # the web answers 409, not 412
    assert svc.entry(slug, entry.id).body == "admin's text"


def test_contributor_drafts_but_cannot_publish(svc: Liveblog, team: Team, slug: str) -> None:
    """A contributor's draft is stored but not public; publishing it is refused."""
    draft = svc.create_entry(team.contributor, slug, body="from the field", status="draft")
    assert draft.status is EntryStatus.DRAFT
    with pytest.raises(Forbidden):
        svc.create_entry(team.contributor, slug, body="straight out")
    with pytest.raises(Forbidden):
        svc.edit_entry(team.contributor, slug, draft.id, {"status": "published"}, Version(1, True))
    assert svc.blog(slug).seq == 0


def test_ended_blog_refuses_new_entries_until_reopened(
    svc: Liveblog, team: Team, slug: str
) -> None:
    """After the end nothing more is published; reopening allows it again, as a blog update."""
    svc.update_blog(team.editor, slug, {"status": "ended"})
    with pytest.raises(InvalidState):
        svc.create_entry(team.editor, slug, body="late")
    svc.update_blog(team.editor, slug, {"status": "live"})
    svc.create_entry(team.editor, slug, body="back again")
    _, events = svc.events(slug, 0)
    assert [e.type for e in events] == [
        EventType.BLOG_ENDED,
        EventType.BLOG_UPDATED,
        EventType.ENTRY_PUBLISHED,
    ]


def test_unchanged_blog_update_writes_no_event(svc: Liveblog, team: Team, slug: str) -> None:
    """Saving the same key points again does not wake every reader with a no-op event."""
    svc.update_blog(team.editor, slug, {"key_points": ["Levees holding"]})
    svc.update_blog(team.editor, slug, {"key_points": ["Levees holding"]})
    assert svc.blog(slug).seq == 1


def test_markdown_limits_are_clear_errors(svc: Liveblog, team: Team, slug: str) -> None:
    """Too-large or too-deeply nested Markdown is refused with the field and the limit named."""
    with pytest.raises(TooLarge, match="100000"):
        svc.create_entry(team.editor, slug, body="x" * 100_001)
    with pytest.raises(InvalidInput, match="limit is 20") as caught:
        svc.create_entry(team.editor, slug, body="> " * 25 + "deep")
    assert caught.value.field == "body"
    svc.create_entry(team.editor, slug, body="> " * 19 + "fine")


def test_raw_html_in_markdown_is_shown_as_text(svc: Liveblog, team: Team, slug: str) -> None:
    """A <script> typed into a body cannot run on readers' pages."""
    entry = svc.create_entry(
        team.editor, slug, body="<script>alert(1)</script> [x](javascript:alert(2))"
    )
    assert "<script" not in entry.html
    assert 'href="javascript' not in entry.html
    assert "&lt;script&gt;" in entry.html


def test_invalid_blog_fields_name_the_field(svc: Liveblog, team: Team) -> None:
    """Bad slugs, zones and languages are refused with the offending field named."""
    for field, kwargs in [
        ("slug", {"slug": "Bad Slug", "title": "t"}),
        ("timezone", {"slug": "ok", "title": "t", "timezone": "Mars/Olympus"}),
        ("language", {"slug": "ok", "title": "t", "language": "english!"}),
        ("title", {"slug": "ok", "title": "   "}),
    ]:
        with pytest.raises(InvalidInput) as caught:
            svc.create_blog(team.editor, **kwargs)  # type: ignore[arg-type]
        assert caught.value.field == field
