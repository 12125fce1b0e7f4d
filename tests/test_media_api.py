"""Pictures through the real HTTP API: upload, place in entries and covers, who may fetch them
when, and how they follow the entry's fate (published, edited away, retracted)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from liveblog.settings import SettingError
from liveblog.usecases.scheduler import publish_due

from conftest import LiveServer, Tokens, auth
from pictures import jpeg, leaky_jpeg, photo, png, png_chunk, png_header, real_bomb_png

SLUG = "election-night"
MEDIA = f"/api/blogs/{SLUG}/media"
ENTRIES = f"/api/blogs/{SLUG}/entries"


def upload(
    http: httpx.Client,
    token: str,
    data: bytes,
    *,
    alt: str = "Cars queue at the border checkpoint",
    name: str = "photo.jpg",
    kind: str = "image/jpeg",
    **texts: str,
) -> httpx.Response:
    fields = {"alt": alt, **texts}
    return http.post(MEDIA, files={"file": (name, data, kind)}, data=fields, headers=auth(token))


def uploaded(
    http: httpx.Client, token: str, data: bytes | None = None, **texts: str
) -> dict[str, Any]:
    r = upload(http, token, data or jpeg(photo()), **texts)
    assert r.status_code == 201, r.text
    item: dict[str, Any] = r.json()
    return item


def entry(http: httpx.Client, token: str, **payload: Any) -> dict[str, Any]:
    r = http.post(ENTRIES, json=payload, headers=auth(token))
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def urls(item: dict[str, Any]) -> list[str]:
    return [r["url"] for r in item["renditions"]]


def test_upload_answers_201_with_the_documented_fields_and_renditions(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """An upload answers 201 with id, texts, size and renditions (url, width, height, format),
    modern format and JPEG at several widths, none wider than the picture."""
    item = uploaded(http, tokens.editor, jpeg(photo(2000, 1000)), caption="Lines", credit="AFP")
    assert {"id", "alt", "caption", "credit", "width", "height", "renditions"} <= set(item)
    assert (item["width"], item["height"], item["caption"], item["credit"]) == (
        2000,
        1000,
        "Lines",
        "AFP",
    )
    formats = {r["format"] for r in item["renditions"]}
    assert "jpeg" in formats and formats & {"avif", "webp"}
    assert all(set(r) == {"url", "width", "height", "format"} for r in item["renditions"])
    assert all(r["width"] <= 2000 and r["url"].startswith("/media/") for r in item["renditions"])
    assert len({r["width"] for r in item["renditions"]}) >= 2


def test_an_unused_upload_is_served_to_staff_only(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """A picture no published entry uses is 404 to the public and served, never cached by a
    shared cache, to signed-in staff."""
    item = uploaded(http, tokens.contributor)
    url = urls(item)[0]
    assert http.get(url).status_code == 404
    staff = http.get(url, headers=auth(tokens.contributor))
    assert staff.status_code == 200
    assert staff.headers["cache-control"] == "private, no-store"
    assert staff.headers["content-type"].startswith("image/")


def test_publishing_an_entry_makes_its_pictures_public_with_year_long_caching(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Once an entry using a picture is published, anyone may fetch every rendition, cached as
    immutable for a year, and the bytes decode as the picture."""
    item = uploaded(http, tokens.editor)
    entry(http, tokens.editor, body="Photographers captured long lines", media=[item["id"]])
    for rendition in item["renditions"]:
        r = http.get(rendition["url"])
        assert r.status_code == 200, rendition
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        if rendition["format"] in ("jpeg", "png", "webp"):
            assert Image.open(io.BytesIO(r.content)).size == (
                rendition["width"],
                rendition["height"],
            )


def test_a_draft_keeps_its_pictures_private_until_it_is_published(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Pictures of a draft stay staff-only; publishing the draft makes them public."""
    item = uploaded(http, tokens.editor)
    draft = entry(http, tokens.editor, body="Not yet", status="draft", media=[item["id"]])
    assert http.get(urls(item)[0]).status_code == 404
    r = http.patch(
        f"{ENTRIES}/{draft['id']}",
        json={"status": "published", "version": draft["version"]},
        headers=auth(tokens.editor),
    )
    assert r.status_code == 200, r.text
    assert http.get(urls(item)[0]).status_code == 200


def test_entry_json_and_html_carry_figures_in_order_with_entry_texts(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """An entry's media list keeps its order and the texts it gives (overriding the upload's);
    its html has a gallery of figures with picture, source, srcset, sizes, width, height, alt,
    lazy loading and the caption and credit visible."""
    first = uploaded(http, tokens.editor, alt="First", caption="Upload caption")
    second = uploaded(http, tokens.editor, jpeg(photo(900, 1200, (10, 120, 40))), alt="Second")
    made = entry(
        http,
        tokens.editor,
        body="Photographers captured long lines",
        media=[
            {
                "id": second["id"],
                "caption": "Trucks near Vaalimaa",
                "credit": "OLIVIER MORIN/AFP via Getty Images",
            },
            first["id"],
        ],
    )
    assert [m["id"] for m in made["media"]] == [second["id"], first["id"]]
    assert made["media"][0]["caption"] == "Trucks near Vaalimaa"
    assert made["media"][1]["caption"] == "Upload caption"
    assert set(made["media"][0]) == {
        "id",
        "alt",
        "caption",
        "credit",
        "width",
        "height",
        "renditions",
    }
    html = made["html"]
    assert html.index("Photographers") < html.index("<figure")
    assert html.count("<figure") == 2 and 'class="entry-media gallery"' in html
    assert html.index('alt="Second"') < html.index('alt="First"')
    assert "OLIVIER MORIN/AFP via Getty Images</span>" in html and "Trucks near Vaalimaa" in html
    img = re.search(r"<img [^>]+>", html)
    assert img is not None
    tag = img.group(0)
    for attribute in (
        "srcset=",
        "sizes=",
        'width="',
        'height="',
        'loading="lazy"',
        'decoding="async"',
    ):
        assert attribute in tag, attribute
    assert re.search(r'<source type="image/(avif|webp)" srcset="[^"]+ \d+w', html)
    page = http.get(f"/blogs/{SLUG}").text
    assert "Trucks near Vaalimaa" in page and "<picture>" in page


def test_editing_a_caption_is_a_new_version_that_reaches_readers(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Changing a picture's caption in an entry bumps its version and appears in the event log
    that open pages follow."""
    item = uploaded(http, tokens.editor)
    made = entry(http, tokens.editor, body="Queue", media=[item["id"]])
    r = http.patch(
        f"{ENTRIES}/{made['id']}",
        json={"media": [{"id": item["id"], "caption": "Now four kilometres long"}]},
        headers={**auth(tokens.editor), "If-Match": f'"{made["version"]}"'},
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == made["version"] + 1
    events = http.get(f"/api/blogs/{SLUG}/events").json()["events"]
    assert events[-1]["type"] == "entry-updated"
    assert events[-1]["data"]["entry"]["media"][0]["caption"] == "Now four kilometres long"


def test_a_picture_edited_out_of_its_last_entry_is_withdrawn_and_recorded(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Removing a picture from the only published entry that used it makes every rendition 410,
    and its URLs are listed for the entry's editors and in the audit log (for a CDN purge)."""
    keep = uploaded(http, tokens.editor, alt="Keep")
    gone = uploaded(http, tokens.editor, jpeg(photo(colour=(200, 30, 90))), alt="Gone")
    made = entry(http, tokens.editor, body="Two pictures", media=[keep["id"], gone["id"]])
    r = http.patch(
        f"{ENTRIES}/{made['id']}",
        json={"media": [keep["id"]], "version": made["version"]},
        headers=auth(tokens.editor),
    )
    assert r.status_code == 200, r.text
    assert all(http.get(url).status_code == 410 for url in urls(gone))
    assert all(http.get(url).status_code == 200 for url in urls(keep))
    listed = http.get(f"{ENTRIES}/{made['id']}/withdrawn", headers=auth(tokens.editor))
    assert listed.status_code == 200
    [withdrawal] = listed.json()["withdrawn"]
    assert withdrawal["media_id"] == gone["id"] and set(urls(gone)) <= set(withdrawal["urls"])
    audit = http.get(f"/api/audit?blog={SLUG}", headers=auth(tokens.editor)).json()["records"]
    purge = [a for a in audit if a["action"] == "media.withdraw"]
    assert purge and set(urls(gone)) <= set(purge[0]["detail"]["urls"])
    assert (
        http.get(f"{ENTRIES}/{made['id']}/withdrawn", headers=auth(tokens.contributor)).status_code
        == 403
    )


def test_two_uploads_of_the_same_picture_share_files_until_both_are_withdrawn(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Renditions are named by their content: the same photo uploaded twice is one set of files,
    still served while either upload is in public use."""
    data = jpeg(photo(colour=(5, 60, 5)))
    one, two = uploaded(http, tokens.editor, data), uploaded(http, tokens.editor, data)
    assert urls(one) == urls(two)
    first = entry(http, tokens.editor, body="One", media=[one["id"]])
    second = entry(http, tokens.editor, body="Two", media=[two["id"]])
    http.delete(f"{ENTRIES}/{first['id']}", headers=auth(tokens.editor))
    assert http.get(urls(one)[0]).status_code == 200
    http.delete(f"{ENTRIES}/{second['id']}", headers=auth(tokens.editor))
    assert http.get(urls(one)[0]).status_code == 410


def test_a_picture_still_used_by_another_published_entry_stays(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Retracting one of two published entries that share a picture leaves it public."""
    item = uploaded(http, tokens.editor)
    one = entry(http, tokens.editor, body="One", media=[item["id"]])
    entry(http, tokens.editor, body="Two", media=[item["id"]])
    assert http.delete(f"{ENTRIES}/{one['id']}", headers=auth(tokens.editor)).status_code == 204
    assert http.get(urls(item)[0]).status_code == 200


def test_retraction_withdraws_pictures_and_redacts_their_texts(
    http: httpx.Client, tokens: Tokens, blog: dict, live: LiveServer
) -> None:
    """Retracting an entry takes its pictures down (410, files deleted) and its captions and
    credits out of the event log and the page."""
    item = uploaded(
        http, tokens.editor, caption="A caption that must vanish", credit="Secret Credit"
    )
    made = entry(http, tokens.editor, body="Soon retracted", media=[item["id"]])
    assert http.delete(f"{ENTRIES}/{made['id']}", headers=auth(tokens.editor)).status_code == 204
    assert all(http.get(url).status_code == 410 for url in urls(item))
    listed = http.get(f"{ENTRIES}/{made['id']}/withdrawn", headers=auth(tokens.editor))
    assert listed.status_code == 200, listed.text  # a retracted entry's purge list stays
    assert set(urls(item)) <= set(listed.json()["withdrawn"][0]["urls"])
    log = http.get(f"/api/blogs/{SLUG}/events").text
    assert "A caption that must vanish" not in log and "Secret Credit" not in log
    assert "A caption that must vanish" not in http.get(f"/blogs/{SLUG}").text
    stored = set(live.svc.library.blobs.keys())
    assert not stored & {u.rsplit("/", 1)[1] for u in urls(item)}
    with live.app.state.store.read() as tx:
        [withdrawn] = tx.media_items(None, [item["id"]]).values()
    assert (withdrawn.alt, withdrawn.caption, withdrawn.credit) == ("", "", "")


def test_a_withdrawn_picture_cannot_be_placed_again(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Once withdrawn, a picture is refused in a new entry with a message saying to upload it
    again (409), and nothing is written."""
    item = uploaded(http, tokens.editor)
    made = entry(http, tokens.editor, body="Soon retracted", media=[item["id"]])
    http.delete(f"{ENTRIES}/{made['id']}", headers=auth(tokens.editor))
    r = http.post(
        ENTRIES, json={"body": "Again", "media": [item["id"]]}, headers=auth(tokens.editor)
    )
    assert r.status_code == 409 and "upload it again" in r.json()["error"]


def test_pictures_of_another_blog_or_unknown_ids_are_refused(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """An entry cannot show a picture uploaded into another blog, nor an id that names none."""
    other = http.post(
        "/api/blogs", json={"slug": "other", "title": "Other"}, headers=auth(tokens.editor)
    )
    assert other.status_code == 201
    r = http.post(
        "/api/blogs/other/media",
        files={"file": ("a.jpg", jpeg(photo()), "image/jpeg")},
        data={"alt": "x"},
        headers=auth(tokens.editor),
    )
    assert r.status_code == 201
    theirs = r.json()["id"]
    for wanted in (theirs, 999_999):
        r = http.post(ENTRIES, json={"body": "x", "media": [wanted]}, headers=auth(tokens.editor))
        assert r.status_code == 422 and r.json()["field"] == "media", r.text


def test_a_blog_cover_is_public_shown_in_blog_json_and_announced(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """Setting a cover shows it with renditions in the blog's JSON, makes it public, and is a
    blog-updated event; replacing it withdraws the old one, null removes it."""
    first = uploaded(http, tokens.editor, alt="Cover one")
    r = http.patch(f"/api/blogs/{SLUG}", json={"cover": first["id"]}, headers=auth(tokens.editor))
    assert r.status_code == 200, r.text
    assert r.json()["cover"]["id"] == first["id"] and r.json()["cover"]["renditions"]
    assert http.get(f"/api/blogs/{SLUG}").json()["cover"]["alt"] == "Cover one"
    assert http.get(urls(first)[0]).status_code == 200
    assert http.get(f"/api/blogs/{SLUG}/events").json()["events"][-1]["type"] == "blog-updated"
    second = uploaded(http, tokens.editor, jpeg(photo(colour=(0, 0, 0))), alt="Cover two")
    http.patch(f"/api/blogs/{SLUG}", json={"cover": second["id"]}, headers=auth(tokens.editor))
    assert http.get(urls(first)[0]).status_code == 410
    r = http.patch(f"/api/blogs/{SLUG}", json={"cover": None}, headers=auth(tokens.editor))
    assert r.json()["cover"] is None
    assert http.get(urls(second)[0]).status_code == 410
    every = http.get(f"/api/blogs/{SLUG}/withdrawn", headers=auth(tokens.editor)).json()
    assert [w["media_id"] for w in every["withdrawn"]] == [first["id"], second["id"]]
    assert all(w["entry_id"] is None for w in every["withdrawn"])


def test_an_entry_of_only_pictures_is_allowed_but_not_an_empty_one(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """A photo entry needs no text; an entry with neither text nor picture is refused (422)."""
    item = uploaded(http, tokens.editor)
    assert entry(http, tokens.editor, headline="At the border", body="", media=[item["id"]])[
        "media"
    ]
    r = http.post(ENTRIES, json={"headline": "Nothing", "body": " "}, headers=auth(tokens.editor))
    assert r.status_code == 422 and r.json()["field"] == "body"


# --- what an upload must never let through ----------------------------------------------------


def test_no_metadata_survives_anywhere_in_the_store_or_the_database(
    http: httpx.Client, tokens: Tokens, blog: dict, live: LiveServer, tmp_path: Path
) -> None:
    """A phone photo's GPS position, owner name, comment and XMP are in none of the stored
    renditions and nowhere in the database file, and every rendition is upright."""
    leaky = leaky_jpeg(1200, 800, orientation=6)
    item = uploaded(http, tokens.editor, leaky.data)
    assert (item["width"], item["height"]) == (800, 1200)  # orientation applied
    blobs = live.svc.library.blobs
    stored = [blobs.get(key) for key in list(blobs.keys())]
    assert stored and all(data is not None for data in stored)
    database = b"".join(p.read_bytes() for p in tmp_path.glob("liveblog.sqlite3*"))
    for secret in leaky.secrets:
        assert not any(secret in data for data in stored if data), secret
        assert secret not in database, secret


@pytest.mark.parametrize(
    ("data", "name", "status", "words"),
    [
        (b"", "empty.jpg", 422, "empty"),
        (b"<html><body><script>alert(1)</script></body></html>", "page.jpg", 415, ""),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "drawing.svg",
            415,
            "SVG",
        ),
        (jpeg(photo(300, 200))[:2000], "cut.jpg", 422, ""),
        (jpeg(photo(300, 200)) + b"<script>alert(1)</script>", "polyglot.jpg", 4, ""),
        (png(Image.new("RGB", (20_000, 1))), "line.png", 422, ""),
        (png_header(100_000, 100_000), "claims.png", 413, "pixels"),
        (real_bomb_png(10_000, 8_000), "bomb.png", 413, "pixels"),
        (png_header(0, 0) + png_chunk(b"IEND", b""), "nothing.png", 422, ""),
    ],
    ids=[
        "empty",
        "html-named-jpg",
        "svg-with-script",
        "truncated",
        "polyglot",
        "one-pixel-line",
        "header-claims-10-gigapixels",
        "decompression-bomb",
        "zero-by-zero",
    ],
)
def test_bad_uploads_are_refused_naming_the_problem_and_nothing_is_kept(
    http: httpx.Client,
    tokens: Tokens,
    blog: dict,
    live: LiveServer,
    data: bytes,
    name: str,
    status: int,
    words: str,
) -> None:
    """Each bad file gets a 4xx JSON error saying what is wrong with it, and leaves no file in
    the store and no media row."""
    r = upload(http, tokens.editor, data, name=name)
    assert r.status_code // 100 == 4 and (status < 100 or r.status_code == status), r.text
    body = r.json()
    assert body["error"] and body["status"] == r.status_code
    assert words in body["error"]
    assert list(live.svc.library.blobs.keys()) == []
    assert http.get(MEDIA, headers=auth(tokens.editor)).json()["media"] == []


def test_upload_needs_alt_text_and_a_file(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """Without alt text, or without a file, the upload is refused with the field named."""
    r = upload(http, tokens.editor, jpeg(photo()), alt="  ")
    assert r.status_code == 422 and r.json()["field"].endswith("alt")
    r = http.post(MEDIA, data={"alt": "x"}, headers=auth(tokens.editor))
    assert r.status_code == 422 and r.json()["field"] == "file"


def test_upload_needs_a_signed_in_user(http: httpx.Client, blog: dict) -> None:
    """Nobody uploads without credentials (401)."""
    r = http.post(MEDIA, files={"file": ("a.jpg", jpeg(photo()), "image/jpeg")}, data={"alt": "x"})
    assert r.status_code == 401


def test_the_upload_limit_is_the_media_route_s_own(
    db_url: str, tmp_path: Path, tokens: Tokens
) -> None:
    """An upload over the media limit is refused with 413, one under it passes although it is
    over the 1 MiB limit every other route keeps, which still refuses such a body."""
    server = LiveServer(db_url, tmp_path, media_max_bytes=3 * 1024 * 1024).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            http.post("/api/blogs", json={"slug": SLUG, "title": "T"}, headers=auth(tokens.editor))
            noisy = Image.effect_noise((1400, 1400), 120).convert("RGB")
            big = jpeg(noisy)
            assert 1024 * 1024 < len(big) < 3 * 1024 * 1024
            assert upload(http, tokens.editor, big).status_code == 201
            huge = big + b"\0" * (3 * 1024 * 1024)
            r = upload(http, tokens.editor, huge)
            assert r.status_code == 413, r.text
            # Sent chunked, with no Content-Length to refuse it by: counted as it arrives.
            boundary = "liveblog-test-boundary"
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="alt"\r\n\r\nx\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"'
                "\r\nContent-Type: image/jpeg\r\n\r\n"
            ).encode()

            def chunks() -> Iterator[bytes]:
                yield head
                for start in range(0, len(huge), 256 * 1024):
                    yield huge[start : start + 256 * 1024]
                yield f"\r\n--{boundary}--\r\n".encode()

            r = http.post(
                MEDIA,
                content=chunks(),
                headers={
                    **auth(tokens.editor),
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                },
            )
            assert r.status_code == 413, r.text
            r = http.post(
                ENTRIES, json={"body": "x" * (2 * 1024 * 1024)}, headers=auth(tokens.editor)
            )
            assert r.status_code == 413
    finally:
        server.stop()


def test_a_media_directory_that_cannot_be_made_stops_the_start(db_url: str, tmp_path: Path) -> None:
    """A media directory path that is a file stops the server at start, naming it."""
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the media directory should be")
    with pytest.raises(SettingError, match="not-a-directory"):
        LiveServer(db_url, tmp_path, media_dir=str(blocked))


def test_a_picture_store_that_fails_answers_503_and_keeps_no_row(
    db_url: str, tmp_path: Path, tokens: Tokens
) -> None:
    """When the media directory cannot be written, an upload gets a 503 saying to try again,
    not a 500, and no media row is left behind."""
    media = tmp_path / "pictures"
    server = LiveServer(db_url, tmp_path, media_dir=str(media)).start()
    media.rmdir()  # gone from under the running server (a lost mount), a file in its place
    media.write_text("not a directory")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            http.post("/api/blogs", json={"slug": SLUG, "title": "T"}, headers=auth(tokens.editor))
            r = upload(http, tokens.editor, jpeg(photo()))
            assert r.status_code == 503, r.text
            assert "try again" in r.json()["error"] and r.headers["retry-after"]
            assert http.get(MEDIA, headers=auth(tokens.editor)).json()["media"] == []
    finally:
        server.stop()


def test_a_local_media_directory_with_a_shared_database_is_warned_about(
    pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Starting on PostgreSQL (several nodes) with pictures in a local directory logs a warning
    naming the directory and the way out."""
    from liveblog.settings import Settings
    from liveblog.web.app import create_app

    with caplog.at_level("WARNING", logger="liveblog.web.app"):
        app = create_app(Settings(data_dir=tmp_path, database_url=pg_url))
    app.state.store.close()
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert str(tmp_path / "media") in warned and "LIVEBLOG_S3_BUCKET" in warned


def test_publishing_a_draft_whose_picture_was_withdrawn_is_refused(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """A draft showing a picture that was withdrawn meanwhile cannot go public as if nothing
    happened: 409 naming the picture, and the draft stays a draft."""
    item = uploaded(http, tokens.editor)
    live_one = entry(http, tokens.editor, body="Live", media=[item["id"]])
    draft = entry(http, tokens.editor, body="", status="draft", media=[item["id"]])
    http.delete(f"{ENTRIES}/{live_one['id']}", headers=auth(tokens.editor))
    r = http.patch(
        f"{ENTRIES}/{draft['id']}",
        json={"status": "published", "version": draft["version"]},
        headers=auth(tokens.editor),
    )
    assert r.status_code == 409 and f"picture {item['id']} was withdrawn" in r.json()["error"]
    again = http.get(f"{ENTRIES}/{draft['id']}", headers=auth(tokens.editor)).json()
    assert again["status"] == "draft"


def test_picture_errors_are_never_cached_and_head_works(
    http: httpx.Client, tokens: Tokens, blog: dict
) -> None:
    """404 and 410 for a picture say no-store (the same URL returns if it is uploaded again);
    HEAD of a public picture answers like GET without a body."""
    item = uploaded(http, tokens.editor)
    url = urls(item)[0]
    assert http.get(url).headers["cache-control"] == "no-store"  # private: 404
    made = entry(http, tokens.editor, body="Up", media=[item["id"]])
    head = http.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["cache-control"] == "public, max-age=31536000, immutable"
    http.delete(f"{ENTRIES}/{made['id']}", headers=auth(tokens.editor))
    gone = http.get(url)
    assert gone.status_code == 410 and gone.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"body": "x", "media": [True]}, "media.0"),
        ({"body": "x", "media": [1.0]}, "media.0"),
        ({"body": "x", "media": ["1"]}, "media.0"),
        ({"body": "x", "media": [{"id": 1, "foo": 1}]}, "media.0.object.foo"),
        ({"body": "x", "media": [{"id": True}]}, "media.0.object.id"),
        ({"body": "x", "media": [2**70]}, "media.0"),
    ],
    ids=["true", "float", "string", "unknown-key", "true-id", "huge"],
)
def test_picture_ids_must_be_plain_integers(
    http: httpx.Client, tokens: Tokens, blog: dict, payload: dict[str, Any], field: str
) -> None:
    """true, 1.0, "1" or a number past 64 bits never name a picture: 422 pointing at the item
    (an object's unknown key by its name)."""
    uploaded(http, tokens.editor)  # picture 1 exists, so a coerced id would find it
    r = http.post(ENTRIES, json=payload, headers=auth(tokens.editor))
    assert r.status_code == 422, r.text
    assert r.json()["field"].startswith(field), r.json()


def test_a_cover_must_be_a_plain_integer_id(http: httpx.Client, tokens: Tokens, blog: dict) -> None:
    """ "cover": true is refused rather than taken as picture 1."""
    uploaded(http, tokens.editor)
    r = http.patch(f"/api/blogs/{SLUG}", json={"cover": True}, headers=auth(tokens.editor))
    assert r.status_code == 422 and r.json()["field"] == "cover", r.text


def test_the_scheduler_sends_an_entry_whose_picture_was_withdrawn_back_to_draft(
    http: httpx.Client, tokens: Tokens, blog: dict, live: LiveServer
) -> None:
    """A scheduled entry whose picture was withdrawn while it waited is not published without
    it: at its time it goes back to draft, and the audit log says why."""
    item = uploaded(http, tokens.editor)
    live_one = entry(http, tokens.editor, body="Live", media=[item["id"]])
    when = datetime.now(UTC) + timedelta(minutes=5)
    waiting = entry(
        http,
        tokens.editor,
        body="Later",
        status="scheduled",
        publish_at=when.isoformat(),
        media=[item["id"]],
    )
    http.delete(f"{ENTRIES}/{live_one['id']}", headers=auth(tokens.editor))
    svc = live.svc
    svc.clock = lambda: when + timedelta(seconds=1)
    assert publish_due(svc) == 0
    again = http.get(f"{ENTRIES}/{waiting['id']}", headers=auth(tokens.editor)).json()
    assert again["status"] == "draft"
    audit = http.get(f"/api/audit?blog={SLUG}", headers=auth(tokens.editor)).json()["records"]
    assert any(
        a["action"] == "entry.draft" and a["detail"].get("media") == [item["id"]] for a in audit
    )
