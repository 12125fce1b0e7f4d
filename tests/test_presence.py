"""Desk presence: who has a blog's desk open and what each is editing, across nodes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from liveblog.storage.sql import SqlStore

from cluster import Cluster, editor_token
from conftest import LiveServer, Tokens, auth

SLUG = "election-night"
PRESENCE = f"/api/blogs/{SLUG}/presence"


def beat(http: httpx.Client, token: str, tab: str, editing: int | None = None) -> httpx.Response:
    return http.put(PRESENCE, json={"tab": tab, "editing": editing}, headers=auth(token))


def others(response: httpx.Response) -> list[tuple[str, int | None]]:
    assert response.status_code == 200, response.text
    return [(p["name"], p["editing"]) for p in response.json()["present"] if not p["you"]]


def test_editors_on_one_desk_see_each_other_and_what_they_edit(
    http: httpx.Client, tokens: Tokens, blog: dict[str, Any]
) -> None:
    """Each desk page's heartbeat returns the others on the blog, with the entry each has
    open; closing the page removes it at once."""
    entry = http.post(
        f"/api/blogs/{SLUG}/entries", json={"body": "x"}, headers=auth(tokens.editor)
    ).json()
    assert others(beat(http, tokens.editor, "tab-eddie-1", entry["id"])) == []
    assert others(beat(http, tokens.contributor, "tab-cora-01")) == [("eddie", entry["id"])]
    assert others(beat(http, tokens.editor, "tab-eddie-1")) == [("cora", None)]
    r = http.delete(PRESENCE, params={"tab": "tab-cora-01"}, headers=auth(tokens.contributor))
    assert r.status_code == 204
    assert others(beat(http, tokens.editor, "tab-eddie-1")) == []


def test_a_desk_not_heard_from_for_30_seconds_has_gone(
    live: LiveServer, http: httpx.Client, tokens: Tokens, blog: dict[str, Any], db_url: str
) -> None:
    """A page that stopped sending heartbeats (closed laptop, lost network) drops out."""
    beat(http, tokens.contributor, "tab-cora-01")
    store = SqlStore(db_url)
    with store.write() as tx:
        tx.conn.exec_driver_sql(
            "UPDATE desk_presence SET seen_at = ?", (datetime.now(UTC) - timedelta(seconds=31),)
        )
    store.close()
    assert others(beat(http, tokens.editor, "tab-eddie-1")) == []


def test_bad_heartbeats_are_refused_clearly(
    http: httpx.Client, tokens: Tokens, blog: dict[str, Any]
) -> None:
    """A malformed tab id, an entry of another blog or none, no sign-in, an unknown blog."""
    r = beat(http, tokens.editor, "x")
    assert r.status_code == 422 and r.json()["field"] == "tab"
    r = beat(http, tokens.editor, "tab-eddie-1", 999)
    assert r.status_code == 422 and r.json()["field"] == "editing"
    assert http.put(PRESENCE, json={"tab": "tab-anon-01"}).status_code == 401
    r = http.put(
        "/api/blogs/nope/presence", json={"tab": "tab-eddie-1"}, headers=auth(tokens.editor)
    )
    assert r.status_code == 404


def test_editors_on_different_nodes_see_each_other(cluster: Cluster, pg_url: str) -> None:
    """Presence lives in the database: a desk on node A sees the editor on node B."""
    token = editor_token(pg_url)
    a, b = cluster.start("A", "B")
    with a.client(headers=auth(token)) as http:
        assert http.post("/api/blogs", json={"slug": SLUG, "title": "T"}).status_code == 201
        entry = http.post(f"/api/blogs/{SLUG}/entries", json={"body": "x"}).json()
        beat(http, token, "tab-on-node-a", entry["id"])
    with b.client() as http:
        response = beat(http, token, "tab-on-node-b")
    assert others(response) == [("eddie", entry["id"])]


def test_an_entry_id_past_64_bits_is_refused_not_a_500(
    http: httpx.Client, tokens: Tokens, blog: dict[str, Any]
) -> None:
    """A number no entry can have is a 422 naming the field, not a database overflow."""
    r = beat(http, tokens.contributor, "tab-cora-01", 2**63)
    assert r.status_code == 422 and r.json()["field"] == "editing"


def test_a_contributor_cannot_probe_drafts_through_presence(
    http: httpx.Client, tokens: Tokens, blog: dict[str, Any]
) -> None:
    """Naming an editor's draft as 'editing' is refused like a missing entry, for a
    contributor, so presence reveals no draft that the contributor may not see."""
    draft = http.post(
        f"/api/blogs/{SLUG}/entries",
        json={"body": "embargoed", "status": "draft"},
        headers=auth(tokens.editor),
    ).json()
    r = beat(http, tokens.contributor, "tab-cora-01", draft["id"])
    assert r.status_code == 422 and r.json()["field"] == "editing"
    assert beat(http, tokens.editor, "tab-eddie-1", draft["id"]).status_code == 200
