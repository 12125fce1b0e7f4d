"""The lite page: the whole live blog as plain HTML for slow or censored networks."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from liveblog.demo import ensure_demo

from conftest import LiveServer, Tokens, auth
from pictures import jpeg, photo

SLUG = "election-night"
LITE = f"/blogs/{SLUG}/lite"


def test_the_demo_blog_s_lite_page_is_small_and_has_no_script(db_url: str, tmp_path: Path) -> None:
    """The demo blog's lite page is under 30 KB uncompressed, loads no script, no web font and
    no picture, and shows every entry, the key points and the correction."""
    server = LiveServer(db_url, tmp_path).start()
    try:
        ensure_demo(server.svc)
        r = httpx.get(f"{server.url}/blogs/demo-storm/lite")
    finally:
        server.stop()
    assert r.status_code == 200
    html = r.text
    assert len(r.content) < 30 * 1024, len(r.content)
    assert "<script" not in html and "<img" not in html and "@font-face" not in html
    assert "Storm warning issued" in html and "Red warning for the whole coast" in html
    assert "An earlier version said the crossings resume tonight." in html
    assert html.count("<article") == 5


def test_fifty_entries_with_pictures_and_embeds_stay_text_first(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """With 50 entries, pictures among them, the page shows pictures only as links to their
    files and embeds as links to the post, with no frame or button, and pages older entries."""
    r = http.post(
        f"/api/blogs/{SLUG}/media",
        files={"file": ("p.jpg", jpeg(photo()), "image/jpeg")},
        data={"alt": "Queue at polling station", "caption": "Voters queue in the rain."},
        headers=auth(tokens.editor),
    )
    picture = r.json()["id"]
    for i in range(52):
        payload: dict[str, object] = {
            "headline": f"Update {i}",
            "body": "Turnout is higher than at the last election in most districts, the "
            "electoral commission says; counting starts when the polls close at 22:00.",
        }
        if i % 10 == 0:
            payload["media"] = [picture]
        if i == 51:
            payload["body"] = "The minister:\n\nhttps://www.youtube.com/watch?v=dQw4w9WgXcQ"
        assert (
            http.post(
                f"/api/blogs/{SLUG}/entries", json=payload, headers=auth(tokens.editor)
            ).status_code
            == 201
        )
    r = http.get(LITE)
    html = r.text
    assert html.count("<article") == 50
    assert "<img" not in html and "<iframe" not in html and "<button" not in html
    assert re.search(r'<a class="photo-link" href="/media/[0-9a-f]{64}\.jpg">\[Photo: Queue', html)
    assert "Voters queue in the rain." in html
    assert 'href="https://www.youtube.com/watch?v=dQw4w9WgXcQ"' in html
    older = re.search(r'href="(/blogs/[^"]+/lite\?before=[^"]+)"', html)
    assert older is not None and "Update 1<" in http.get(older.group(1).replace("&amp;", "&")).text
    print(f"lite page, 50 entries: {len(r.content)} bytes")


def test_a_retracted_entry_leaves_the_lite_page_and_the_validator_moves(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """The lite page answers 304 while nothing changed and drops a retracted entry's text at
    once; HEAD works."""
    made = http.post(
        f"/api/blogs/{SLUG}/entries",
        json={"body": "A claim about to be withdrawn"},
        headers=auth(tokens.editor),
    ).json()
    first = http.get(LITE)
    etag = first.headers["etag"]
    assert http.get(LITE, headers={"If-None-Match": etag}).status_code == 304
    assert http.head(LITE).status_code == 200
    http.delete(f"/api/blogs/{SLUG}/entries/{made['id']}", headers=auth(tokens.editor))
    after = http.get(LITE, headers={"If-None-Match": etag})
    assert after.status_code == 200 and "about to be withdrawn" not in after.text
