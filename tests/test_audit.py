"""The audit log: every write leaves its row in its own transaction, failed writes leave none,
only editors and admins read it, and it never keeps a retracted entry's text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from liveblog import cli
from liveblog.broadcast.base import NullHub
from liveblog.domain.audit import AuditAction, AuditRecord
from liveblog.domain.models import Role
from liveblog.service import Liveblog
from liveblog.storage.schema import audit_log
from liveblog.storage.sql import SqlStore
from liveblog.usecases.scheduler import publish_due

from conftest import LiveServer, Team, Tokens, auth

SLUG = "election-night"
ENTRIES = f"/api/blogs/{SLUG}/entries"


def audit_rows(http: httpx.Client, token: str, **params: Any) -> list[dict[str, Any]]:
    """Every row the API returns, oldest first, following `next` across pages."""
    rows: list[dict[str, Any]] = []
    query = {"blog": SLUG, "limit": 500, **params}
    while True:
        r = http.get("/api/audit", params=query, headers=auth(token))
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "private, no-store"
        rows += r.json()["records"]
        if r.json()["next"] is None:
            return rows[::-1]
        query["before"] = r.json()["next"]


def post_entry(http: httpx.Client, token: str, **payload: Any) -> dict[str, Any]:
    r = http.post(ENTRIES, json={"body": "Polls are open", **payload}, headers=auth(token))
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def test_a_desk_session_leaves_its_rows_in_order(
    http: httpx.Client, tokens: Tokens, team: Team, blog: dict[str, Any]
) -> None:
    """Publish, edit with a correction, pin, mark key event, retract, key points, end, reopen:
    one row each, in order, naming the actor, the blog and the entry."""
    editor = auth(tokens.editor)
    first = post_entry(http, tokens.editor)
    other = post_entry(http, tokens.editor, body="Turnout is high", pinned=True)
    entry = f"{ENTRIES}/{first['id']}"
    r = http.patch(
        entry,
        json={"body": "Polls are open until 22:00", "correction": "Hours added", "version": 1},
        headers=editor,
    )
    assert r.status_code == 200, r.text
    r = http.patch(entry, json={"pinned": True, "key_event": True, "version": 2}, headers=editor)
    assert r.status_code == 200, r.text
    r = http.request("DELETE", entry, json={"public_note": "Wrong polling hours"}, headers=editor)
    assert r.status_code == 204, r.text
    for change in ({"key_points": ["Exit poll at 22:00"]}, {"status": "ended"}, {"status": "live"}):
        r = http.patch(f"/api/blogs/{SLUG}", json=change, headers=editor)
        assert r.status_code == 200, r.text

    rows = audit_rows(http, tokens.editor)
    summary = [(row["action"], row["entry_id"]) for row in rows]
    assert summary == [
        ("blog.create", None),
        ("entry.publish", first["id"]),
        ("entry.publish", other["id"]),
        ("entry.pin", other["id"]),
        ("entry.edit", first["id"]),
        ("entry.pin", first["id"]),
        ("entry.key_event", first["id"]),
        ("entry.retract", first["id"]),
        ("blog.key_points", None),
        ("blog.end", None),
        ("blog.reopen", None),
    ]
    assert {(row["actor"], row["user_id"], row["blog"]) for row in rows} == {
        ("eddie", team.editor.id, SLUG)
    }
    assert [row["id"] for row in rows] == sorted(row["id"] for row in rows)
    details = [row["detail"] for row in rows]
    assert details[1] == {"version": 1}
    assert details[4] == {"version": 2, "correction": "Hours added"}
    assert details[5] == {"unpinned": [other["id"]]}  # one pinned entry at a time
    assert details[6] == {"key_event": True}
    assert details[7] == {"public_note": "Wrong polling hours"}
    assert details[8] == {"count": 1}
    assert all(datetime.fromisoformat(row["at"]).tzinfo is not None for row in rows)


def test_failed_writes_leave_no_row(
    http: httpx.Client, tokens: Tokens, blog: dict[str, Any]
) -> None:
    """A stale version (409 and 412), a contributor's 403s, invalid input and an unknown entry
    change nothing, so they leave no audit row either."""
    entry = post_entry(http, tokens.editor)
    url = f"{ENTRIES}/{entry['id']}"
    r = http.patch(url, json={"body": "Second", "version": 1}, headers=auth(tokens.editor))
    assert r.status_code == 200, r.text
    before = audit_rows(http, tokens.editor)

    failures = [
        http.patch(url, json={"body": "Stale", "version": 1}, headers=auth(tokens.editor)),
        http.patch(url, json={"body": "Stale"}, headers={**auth(tokens.editor), "If-Match": '"1"'}),
        http.post(ENTRIES, json={"body": "Mine"}, headers=auth(tokens.contributor)),
        http.patch(url, json={"pinned": True, "version": 2}, headers=auth(tokens.contributor)),
        http.request("DELETE", url, headers=auth(tokens.contributor)),
        http.patch(
            f"/api/blogs/{SLUG}", json={"status": "ended"}, headers=auth(tokens.contributor)
        ),
        http.post(ENTRIES, json={"body": "  "}, headers=auth(tokens.editor)),
        http.request("DELETE", f"{ENTRIES}/999999", headers=auth(tokens.editor)),
        http.patch(
            f"/api/blogs/{SLUG}", json={"title": "Election night"}, headers=auth(tokens.editor)
        ),
    ]
    assert [r.status_code for r in failures] == [409, 412, 403, 403, 403, 403, 422, 404, 200]
    assert audit_rows(http, tokens.editor) == before  # the last: a change that changed nothing


def test_only_editors_and_admins_read_the_log(
    http: httpx.Client, tokens: Tokens, blog: dict[str, Any]
) -> None:
    """Contributors get 403 and anonymous callers 401; editors and admins see every blog's rows
    or one blog's, and an unknown blog is 404."""
    post_entry(http, tokens.contributor, status="draft")
    assert http.get("/api/audit", headers=auth(tokens.contributor)).status_code == 403
    assert http.get("/api/audit").status_code == 401
    for token in (tokens.editor, tokens.admin):
        r = http.get("/api/audit", headers=auth(token))
        assert r.status_code == 200, r.text
        actions = [(row["actor"], row["action"]) for row in r.json()["records"]]
        assert actions[:2] == [("cora", "entry.draft"), ("eddie", "blog.create")]
    assert http.get("/api/audit?blog=no-such-blog", headers=auth(tokens.editor)).status_code == 404


def test_the_schedulers_publish_is_attributed_to_the_scheduler(
    live: LiveServer, http: httpx.Client, tokens: Tokens, blog: dict[str, Any]
) -> None:
    """An entry scheduled by an editor and published at its time by the scheduler reads as
    scheduled by the editor, then published by "scheduler" with no user id."""
    publish_at = datetime.now(UTC) + timedelta(hours=1)
    entry = post_entry(http, tokens.editor, status="scheduled", publish_at=publish_at.isoformat())
    later = Liveblog(
        live.app.state.store, NullHub(), clock=lambda: publish_at + timedelta(seconds=1)
    )
    assert publish_due(later) == 1

    rows = audit_rows(http, tokens.editor)[1:]
    assert [(r["actor"], r["user_id"], r["action"], r["entry_id"]) for r in rows] == [
        ("eddie", live.svc.user_for_token(tokens.editor).id, "entry.schedule", entry["id"]),
        ("scheduler", None, "entry.publish", entry["id"]),
    ]
    assert rows[0]["detail"] == {"publish_at": entry["publish_at"]}
    assert rows[1]["detail"] == {"version": 1}


def test_pages_follow_next_without_gaps_or_repeats(
    http: httpx.Client, tokens: Tokens, blog: dict[str, Any]
) -> None:
    """Pages of 3 walk the log newest first, each row once, and end with `next` null; a cursor
    that is not a positive id is 422."""
    for n in range(7):
        post_entry(http, tokens.editor, body=f"Update {n}")
    seen: list[int] = []
    before: int | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"blog": SLUG, "limit": 3}
        if before is not None:
            params["before"] = before
        page = http.get("/api/audit", params=params, headers=auth(tokens.editor)).json()
        assert len(page["records"]) <= 3
        seen += [row["id"] for row in page["records"]]
        pages += 1
        before = page["next"]
        if before is None:
            break
    assert pages == 3  # 8 rows: the blog and seven entries
    assert seen == sorted(set(seen), reverse=True) and len(seen) == 8
    for bad in ("0", "x", "-1"):
        r = http.get("/api/audit", params={"before": bad}, headers=auth(tokens.editor))
        assert r.status_code == 422, r.text


def test_a_retractions_row_keeps_only_the_note(
    live: LiveServer, http: httpx.Client, tokens: Tokens, blog: dict[str, Any]
) -> None:
    """Text that was retracted is in no audit row, in the API's answer or in the table itself."""
    marker = "SECRET-SOURCE-NAME-7731"
    entry = post_entry(http, tokens.editor, headline=f"{marker} says", body=f"Per {marker}.")
    url = f"{ENTRIES}/{entry['id']}"
    r = http.patch(
        url, json={"body": f"{marker}, again", "version": 1}, headers=auth(tokens.editor)
    )
    assert r.status_code == 200, r.text
    r = http.request("DELETE", url, json={"public_note": "Withdrawn"}, headers=auth(tokens.editor))
    assert r.status_code == 204

    answer = http.get("/api/audit", headers=auth(tokens.editor))
    assert "entry.retract" in answer.text and "Withdrawn" in answer.text
    assert marker not in answer.text
    with live.app.state.store.read() as tx:
        stored = [(row.action, row.detail) for row in tx.conn.execute(audit_log.select())]
    assert ("entry.retract", '{"public_note":"Withdrawn"}') in stored
    assert not any(marker in detail for _, detail in stored)


def test_the_command_line_prints_a_line_per_row(
    svc: Liveblog, team: Team, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`liveblog audit` prints the newest rows first, one line each; a token made on the command
    line reads as done by "system"."""
    svc.create_blog(team.editor, slug=SLUG, title="Election night")
    svc.create_blog(team.editor, slug="storm", title="Storm")
    svc.create_token(team.editor.name)
    entry = svc.create_entry(team.editor, SLUG, body="Polls are open")
    capsys.readouterr()

    assert cli.main(["audit", "--database-url", db_url, "--limit", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert f"eddie  entry.publish  blog={SLUG} entry={entry.id}  " in lines[0]
    assert "system  token.create  blog=-  " in lines[1] and '"user":"eddie"' in lines[1]
    assert "eddie  blog.create  blog=storm  " in lines[2]

    assert cli.main(["audit", "--database-url", db_url, "--blog", SLUG]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[2] for line in lines] == ["entry.publish", "blog.create"]


def test_rows_commit_with_their_transaction_on_both_backends(any_store: SqlStore) -> None:
    """Rows written in a transaction that fails vanish with it; committed rows read back newest
    first with UTC times and the blog's slug, per blog or for all, before an id."""
    svc = Liveblog(any_store, NullHub())
    editor = svc.create_user("ed", Role.EDITOR, "password-1")  # row 1: user.create
    blog = svc.create_blog(editor, slug="storm", title="Storm")  # row 2: blog.create
    moment = datetime(2026, 11, 27, 21, 0, 0, 123456, tzinfo=UTC)
    row = AuditRecord(at=moment, actor="ed", action=AuditAction.ENTRY_PIN, user_id=editor.id)

    with pytest.raises(RuntimeError), any_store.write() as tx:
        tx.insert_audit([row])
        raise RuntimeError("the change failed after its row was written")
    with any_store.write() as tx:
        tx.insert_audit(
            [
                AuditRecord(
                    at=moment,
                    actor="ed",
                    action="entry.pin",
                    blog_id=blog.id,
                    entry_id=5,
                    detail='{"n":1}',
                ),
                AuditRecord(
                    at=moment, actor="ed", action="entry.unpin", blog_id=blog.id, entry_id=5
                ),
            ]
        )

    with any_store.read() as tx:
        everyone = tx.audit_records(None, 10)
        storm = tx.audit_records(blog.id, 10)
        older = tx.audit_records(blog.id, 10, before_id=storm[0].id)
    assert [r.action for r in everyone] == [
        "entry.unpin",
        "entry.pin",
        "blog.create",
        "user.create",
    ]
    assert [r.action for r in storm] == ["entry.unpin", "entry.pin", "blog.create"]
    assert [r.action for r in older] == ["entry.pin", "blog.create"]
    assert everyone[1].at == moment and everyone[1].at.tzinfo is not None
    assert (everyone[1].blog_slug, everyone[1].entry_id, everyone[1].detail) == (
        "storm",
        5,
        '{"n":1}',
    )
    assert (everyone[3].actor, everyone[3].user_id, everyone[3].blog_slug) == ("system", None, None)
